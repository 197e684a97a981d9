/* OpenMP shim: the same names with or without OpenMP (FASTCONV_NO_OPENMP=1). */
#ifndef FASTCONV_OMP_SHIM_H
#define FASTCONV_OMP_SHIM_H
#ifdef _OPENMP
#include <omp.h>
static inline int fc_omp_enabled(void) { return 1; }
static inline int fc_omp_max_threads(void) { return omp_get_max_threads(); }
static inline int fc_omp_thread_num(void) { return omp_get_thread_num(); }
static inline int fc_omp_num_procs(void) { return omp_get_num_procs(); }
static inline void fc_omp_set_num_threads(int n) { omp_set_num_threads(n); }
#else
static inline int fc_omp_enabled(void) { return 0; }
static inline int fc_omp_max_threads(void) { return 1; }
static inline int fc_omp_thread_num(void) { return 0; }
static inline int fc_omp_num_procs(void) { return 1; }
static inline void fc_omp_set_num_threads(int n) { (void)n; }
#endif
#endif
