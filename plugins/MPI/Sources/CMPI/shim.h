// MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros Swift cannot import:
// the few calls mlpsh makes, as functions.
#include <mpi.h>
#include <string.h>

/// Joins the job; returns MPI's error code (MPI_SUCCESS is 0).
static inline int mlpsh_mpi_init(int *rank, int *size, int *local_size) {
    int provided = 0, code = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (code != MPI_SUCCESS) return code;
    // Errors come back as codes; mlpsh reports them and ends every rank.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, local_size);
    MPI_Comm_free(&local);
    return MPI_SUCCESS;
}

static inline int mlpsh_mpi_sum_floats(float *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static inline int mlpsh_mpi_sum_doubles(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

static inline int mlpsh_mpi_broadcast(void *bytes, int count, int root) {
    return MPI_Bcast(bytes, count, MPI_BYTE, root, MPI_COMM_WORLD);
}

static inline void mlpsh_mpi_abort(int status) { MPI_Abort(MPI_COMM_WORLD, status); }

static inline void mlpsh_mpi_finalize(void) {
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
}

/// "Open MPI v4.1.4" (the library's version string up to its first comma).
static inline void mlpsh_mpi_version(char *out, int capacity) {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(text, &length);
    int n = 0;
    while (n < length && n < capacity - 1 && text[n] != ',' && text[n] != '\n') n++;
    memcpy(out, text, n);
    out[n] = 0;
}
