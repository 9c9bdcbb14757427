// zlib (a dependency of libpng, always present with libpng-dev): gzip inflate for assets.
#include <zlib.h>
