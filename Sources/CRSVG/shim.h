// librsvg and cairo (Debian's librsvg2-dev), to render mlpsh's SVG figures as PNG.
#include <librsvg/rsvg.h>
#include <cairo.h>
