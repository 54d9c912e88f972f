// SQLite's C API (Debian's libsqlite3-dev).
#include <sqlite3.h>
