/* cml.c — the `cml` harness: dispatches subcommands (info, keygen,
 * encrypt, run, decrypt, predict, serve, client, demo, bench), one file each. */
#include "bench.h"
#include "cml_tool.h"

#include <stdio.h>
#include <string.h>

#ifndef CML_VERSION
#define CML_VERSION "unknown"
#endif

static void usage(FILE *f) {
    fputs("usage: cml <command> [args]\n"
          "\n"
          "commands:\n"
          "  info            print a compiled model's spec: cml info MODEL.so [--json]\n"
          "  keygen          make keys for a model: cml keygen MODEL.so -o DIR\n"
          "                  (DIR/client.key: secret; DIR/server.key: evaluation keys)\n"
          "  encrypt         encrypt CSV samples: cml encrypt MODEL.so DIR/client.key X.csv -o X.ct\n"
          "  run             evaluate on ciphertexts: cml run MODEL.so DIR/server.key X.ct -o Y.ct\n"
          "  decrypt         print the decrypted outputs: cml decrypt MODEL.so DIR/client.key Y.ct\n"
          "  predict         all of it in one process, one output row per sample:\n"
          "                  cml predict MODEL.so INPUT.csv [--simulate | --clear]\n"
          "  serve           serve models over HTTP (evaluation keys only):\n"
          "                  cml serve MODEL.so... --key-store DIR [--host H] [--port P]\n"
          "  client          predict through a server: cml client URL MODEL --keys DIR X.csv\n"
          "  demo            run the TFHE runtime end to end (keygen, encrypt, bootstrap, decrypt)\n"
          "  bench pbs       benchmark keygen, keyswitch and bootstrapping per precision\n"
          "  bench compile   time the compiler's front half on a 1,000-neuron MLP\n"
          "  bench infer     keygen, key sizes, encrypted latency of a compiled model\n"
          "\n"
          "  cml <command> --help   describes a command\n"
          "  cml --version          prints the version\n",
          f);
}

static int cmd_bench(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
        fputs("usage: cml bench pbs|compile|infer [options]   (cml bench NAME --help for options)\n",
              argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "pbs")) return cml_bench_pbs(argc - 1, argv + 1);
    if (!strcmp(argv[0], "compile")) return cml_bench_compile(argc - 1, argv + 1);
    if (!strcmp(argv[0], "infer")) return cml_bench_infer(argc - 1, argv + 1);
    fprintf(stderr, "cml bench: unknown benchmark '%s' (available: pbs, compile, infer)\n", argv[0]);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("cml %s\n", CML_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "info")) return cml_cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cml_cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "keygen")) return cml_cmd_keygen(argc - 2, argv + 2);
    if (!strcmp(cmd, "encrypt")) return cml_cmd_encrypt(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) return cml_cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "decrypt")) return cml_cmd_decrypt(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve")) return cml_cmd_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "client")) return cml_cmd_client(argc - 2, argv + 2);
    if (!strcmp(cmd, "demo")) return cml_cmd_demo(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
    fprintf(stderr, "cml: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
