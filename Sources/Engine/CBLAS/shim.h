// CBLAS and the few LAPACK routines mlpsh uses, all from Debian's OpenBLAS
// (libopenblas-dev; pkg-config adds its include folder, where cblas.h lives).
#include <cblas.h>

// LAPACK (Fortran calling convention; OpenBLAS exports them).
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau,
             float *work, const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
             const float *tau, float *work, const int *lwork, int *info);
