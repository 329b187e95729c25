// mpi_comm.h: the MPI side of data-parallel training: starts MPI when the process was launched by
// mpirun (or srun), and implements the agents library's communicator (ama_comm) over
// MPI_COMM_WORLD. Built without MPI, a process launched by mpirun is refused with a message.
#ifndef ANIMAT_MPI_COMM_H
#define ANIMAT_MPI_COMM_H

#include "ama_agents.h"

// 1 when this animat was built with MPI.
int cli_mpi_built(void);
// Starts MPI if the process runs under mpirun/srun, and fills c (size 1, no MPI, otherwise). Sets
// cli_fail's rank tag ("rank R of N: ") when there are several ranks. Returns 0, or 1 after
// printing why.
int cli_mpi_start(const char* cmd, ama_comm* c);
// Ends MPI: with several ranks a non-zero status aborts the whole job (MPI_Abort: mpirun stops
// every rank and exits non-zero); status 0 finalises. Returns status.
int cli_mpi_end(const ama_comm* c, int status);

#endif  // ANIMAT_MPI_COMM_H
