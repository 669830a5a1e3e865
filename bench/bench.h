/* bench.h — entry points of the benchmarks `cml bench NAME` runs. Each
 * prints one figure a line: `name value unit`. */
#ifndef CML_BENCH_H
#define CML_BENCH_H

int cml_bench_pbs(int argc, char **argv);
int cml_bench_compile(int argc, char **argv);
int cml_bench_infer(int argc, char **argv);

/* Shared by the benchmarks (bench_pbs.c): a monotonic clock in ms, and the
 * median of v[0..n) (sorts v). */
double bench_now_ms(void);
double bench_median(double *v, int n);

#endif
