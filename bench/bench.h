/* bench.h — entry points of the benchmarks `cml bench NAME` runs. Each
 * prints one figure a line: `name value unit`. */
#ifndef CML_BENCH_H
#define CML_BENCH_H

int cml_bench_pbs(int argc, char **argv);
int cml_bench_compile(int argc, char **argv);

#endif
