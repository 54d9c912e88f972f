// libpng (libpng-dev), for reading and writing PNG images through its simplified API.
#include <png.h>
