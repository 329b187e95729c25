// mpi_comm.c: ama_comm over MPI (see mpi_comm.h and docs/distributed.md). Errors of MPI calls
// return (MPI_ERRORS_RETURN) with MPI's message so that the rank can say which operation failed
// before the job is aborted; a rank that dies outright is noticed by mpirun, which stops the others.
#include "mpi_comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

// The rank count mpirun/srun gave this process (0: not launched by one).
static int launched_size(void) {
  const char* vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};  // Open MPI's mpirun, MPICH/Hydra
  for (int i = 0; i < 2; i++) {
    const char* v = getenv(vars[i]);
    if (v && atoi(v) > 0) return atoi(v);
  }
  return getenv("PMIX_RANK") ? 1 : 0;  // srun --mpi=pmix: the count comes from MPI itself
}

#ifdef ANIMAT_HAVE_MPI
#include <mpi.h>
#include <pthread.h>
#include <unistd.h>

static int g_started;

// The watchdog: a rank that stops answering without dying (stopped, stuck in a kernel call, a
// lost network link) would leave the others waiting in a collective forever. A thread checks once
// a second how long the current call has waited; past ANIMAT_MPI_TIMEOUT seconds (default 600:
// rank 0 may be recording evaluation episodes while the others wait; 0: never) it reports and
// ends this process with status 1, and mpirun then stops the job.
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static const char* wd_what;  // the call under way (NULL: none)
static double wd_since, wd_limit;
static int wd_rank, wd_size;

static void* watchdog(void* arg) {
  for (;;) {
    sleep(1);
    pthread_mutex_lock(&wd_mu);
    const char* what = wd_what;
    double waited = what ? am_now() - wd_since : 0;
    pthread_mutex_unlock(&wd_mu);
    if (what && waited > wd_limit) {
      fprintf(stderr, "animat: rank %d of %d: no answer from the other ranks in %s for %.0f s "
              "(ANIMAT_MPI_TIMEOUT): a rank is stopped or unreachable; ending the job\n",
              wd_rank, wd_size, what, waited);
      _exit(1);
    }
  }
  return arg;
}

static void wd_begin(const char* what) {
  pthread_mutex_lock(&wd_mu);
  wd_what = what;
  wd_since = am_now();
  pthread_mutex_unlock(&wd_mu);
}

static void wd_end(void) {
  pthread_mutex_lock(&wd_mu);
  wd_what = NULL;
  pthread_mutex_unlock(&wd_mu);
}

static int mpi_fail(int rc, const char* what, char* err, size_t err_sz) {
  char msg[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  snprintf(err, err_sz, "%s failed: %s", what, msg);
  return -1;
}

static int c_allgather(void* ctx, const void* in, void* out, size_t n, char* err, size_t err_sz) {
  if (n > INT_MAX) return am_err(err, err_sz, "MPI_Allgather: %zu bytes is more than MPI's int", n);
  wd_begin("MPI_Allgather");
  int rc = MPI_Allgather(in, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, MPI_COMM_WORLD);
  wd_end();
  return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Allgather", err, err_sz);
}

static int c_sum_i64(void* ctx, int64_t* buf, size_t n, char* err, size_t err_sz) {
  if (n > INT_MAX) return am_err(err, err_sz, "MPI_Allreduce: %zu values is more than MPI's int", n);
  wd_begin("MPI_Allreduce");
  int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  wd_end();
  return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Allreduce", err, err_sz);
}

static int c_bcast(void* ctx, void* buf, size_t n, char* err, size_t err_sz) {
  if (n > INT_MAX) return am_err(err, err_sz, "MPI_Bcast: %zu bytes is more than MPI's int", n);
  wd_begin("MPI_Bcast");
  int rc = MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
  wd_end();
  return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Bcast", err, err_sz);
}

int cli_mpi_built(void) { return 1; }

int cli_mpi_start(const char* cmd, ama_comm* c) {
  memset(c, 0, sizeof *c);
  c->size = 1;
  if (!launched_size()) return 0;
  int provided = 0;
  // the env pool's threads never call MPI: only the main thread does
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return cli_fail(cmd, "MPI_Init failed");
  g_started = 1;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c->size);
  c->allgather = c_allgather;
  c->sum_i64 = c_sum_i64;
  c->bcast = c_bcast;
  if (c->size > 1) {
    static char tag[64];
    snprintf(tag, sizeof tag, "rank %d of %d: ", c->rank, c->size);
    cli_rank_tag = tag;
    const char* t = getenv("ANIMAT_MPI_TIMEOUT");
    wd_limit = t && *t ? atof(t) : 600;
    wd_rank = c->rank;
    wd_size = c->size;
    pthread_t th;
    if (wd_limit > 0 && pthread_create(&th, NULL, watchdog, NULL) == 0) pthread_detach(th);
  }
  return 0;
}

int cli_mpi_end(const ama_comm* c, int status) {
  if (!g_started) return status;
  g_started = 0;
  fflush(stdout);
  fflush(stderr);
  if (status && c->size > 1) MPI_Abort(MPI_COMM_WORLD, status);  // does not return
  MPI_Finalize();
  return status;
}

#else  // built without MPI

int cli_mpi_built(void) { return 0; }

int cli_mpi_start(const char* cmd, ama_comm* c) {
  memset(c, 0, sizeof *c);
  c->size = 1;
  int n = launched_size();
  if (n > 1)
    return cli_fail(cmd, "launched as one of %d ranks (mpirun/srun), but this animat was built "
                    "without MPI: install libopenmpi-dev and rebuild (tools/animat does both; "
                    "docs/distributed.md)", n);
  return 0;
}

int cli_mpi_end(const ama_comm* c, int status) { return status; }

#endif
