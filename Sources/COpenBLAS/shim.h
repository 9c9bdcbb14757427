// Debian's libopenblas-dev provides cblas.h (with the openblas_* extensions) through alternatives.
#include <cblas.h>
