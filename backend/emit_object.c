/* emit_object.c — the backend's driver (backend.h): builds the module
 * (spec, simulation twin), checks it with LLVMVerifyModule (an invalid
 * module is a compiler bug, reported as an internal error, never an
 * abort), optimises it with the new pass manager's "default<O2>", and
 * writes what was asked. A shared object is an object file in a private
 * temporary directory linked by the system C compiler (`$CC`, else `cc`)
 * started with posix_spawnp — no shell, so no quoting problem with paths.
 * The .so links libcmlrt (which cml_circuit_run calls into) with an rpath
 * to the build's runtime directory, and libm. */
#include "backend.h"
#include "llvm_ctx.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static bool verify(llvm_ctx *c) {
    char *msg = NULL;
    if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
        diag_error(c->d, (diag_loc){0}, "internal: the generated LLVM IR is invalid: %s",
                   msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return false;
    }
    LLVMDisposeMessage(msg);
    return true;
}

static bool optimise(llvm_ctx *c) {
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef err = LLVMRunPasses(c->mod, "default<O2>", c->tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (err) {
        char *msg = LLVMGetErrorMessage(err);
        diag_error(c->d, (diag_loc){0}, "internal: LLVM optimisation failed: %s", msg);
        LLVMDisposeErrorMessage(msg);
        return false;
    }
    return true;
}

static bool to_stdout(const char *path) { return !path || !strcmp(path, "-"); }

static bool write_bytes(diag_ctx *d, const char *path, const char *data, size_t n) {
    bool std = to_stdout(path);
    FILE *f = std ? stdout : fopen(path, "wb");
    if (!f) {
        diag_error(d, (diag_loc){0}, "cannot open '%s' for writing: %s", path, strerror(errno));
        return false;
    }
    bool ok = fwrite(data, 1, n, f) == n;
    ok = (std ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        diag_error(d, (diag_loc){0}, "cannot write '%s': %s", std ? "<stdout>" : path,
                   strerror(errno));
    return ok;
}

/* Assembly or object code through a memory buffer (LLVMTargetMachineEmitToFile
 * would report its own errors less clearly, and cannot write to stdout). */
static bool write_code(llvm_ctx *c, LLVMCodeGenFileType kind, const char *path) {
    char *err = NULL;
    LLVMMemoryBufferRef mb = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(c->tm, c->mod, kind, &err, &mb)) {
        diag_error(c->d, (diag_loc){0}, "internal: LLVM code generation failed: %s",
                   err ? err : "?");
        LLVMDisposeMessage(err);
        return false;
    }
    bool ok = write_bytes(c->d, path, LLVMGetBufferStart(mb), LLVMGetBufferSize(mb));
    LLVMDisposeMemoryBuffer(mb);
    return ok;
}

enum { MAX_CC_WORDS = 16 };

/* Runs `$CC -shared -o so obj -L... -lcmlrt -lm` and waits for it. */
static bool link_shared(diag_ctx *d, const char *cc, const char *obj, const char *so) {
    if (!cc) cc = getenv("CC");
    if (!cc || !*cc) cc = "cc";
    char *words = strdup(cc);
    if (!words) {
        diag_error(d, (diag_loc){0}, "out of memory");
        return false;
    }
    /* $CC may be a command with arguments ("ccache gcc"): split on blanks */
    char *argv[MAX_CC_WORDS + 8];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w && n < MAX_CC_WORDS;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    if (n == 0) argv[n++] = "cc";
    argv[n++] = "-shared";
    argv[n++] = "-o";
    argv[n++] = (char *)so;
    argv[n++] = (char *)obj;
    /* cml_circuit_run calls into libcmlrt: the one this cmlc was built with,
     * found again at load time through the rpath */
    argv[n++] = "-L" CML_RUNTIME_LIBDIR;
    argv[n++] = "-Wl,-rpath," CML_RUNTIME_LIBDIR;
    argv[n++] = "-lcmlrt";
    argv[n++] = "-lm";
    argv[n] = NULL;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    bool ok = false;
    if (rc != 0) {
        diag_error(d, (diag_loc){0}, "cannot run the linker '%s': %s (set $CC to a C compiler)",
                   argv[0], strerror(rc));
    } else {
        int status = 0;
        pid_t w;
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
        if (w < 0)
            diag_error(d, (diag_loc){0}, "waiting for the linker '%s': %s", argv[0],
                       strerror(errno));
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok = true;
        else if (WIFEXITED(status))
            diag_error(d, (diag_loc){0}, "linking '%s' with '%s' failed (exit status %d)", so,
                       argv[0], WEXITSTATUS(status));
        else
            diag_error(d, (diag_loc){0}, "linking '%s': '%s' was killed by signal %d", so, argv[0],
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    free(words);
    return ok;
}

static bool write_shared(llvm_ctx *c, const backend_opts *o) {
    if (to_stdout(o->path)) {
        diag_error(c->d, (diag_loc){0}, "a shared object cannot be written to stdout");
        return false;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[4096], obj[4200];
    snprintf(dir, sizeof dir, "%s/cmlc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        diag_error(c->d, (diag_loc){0}, "cannot create a temporary directory '%s': %s", dir,
                   strerror(errno));
        return false;
    }
    snprintf(obj, sizeof obj, "%s/model.o", dir);
    bool ok = write_code(c, LLVMObjectFile, obj) && link_shared(c->d, o->cc, obj, o->path);
    unlink(obj);
    rmdir(dir);
    return ok;
}

static bool write_output(llvm_ctx *c, const backend_opts *o) {
    switch (o->kind) {
    case BACKEND_EMIT_LLVM: {
        char *text = LLVMPrintModuleToString(c->mod);
        bool ok = write_bytes(c->d, o->path, text, strlen(text));
        LLVMDisposeMessage(text);
        return ok;
    }
    case BACKEND_EMIT_ASM: return write_code(c, LLVMAssemblyFile, o->path);
    case BACKEND_EMIT_OBJECT: return write_code(c, LLVMObjectFile, o->path);
    case BACKEND_EMIT_SHARED: return write_shared(c, o);
    }
    return false;
}

bool backend_compile(ir_module *m, diag_ctx *d, const backend_opts *o) {
    llvm_ctx c;
    if (!llvm_ctx_init(&c, m->main->name, d)) return false;
    bool ok = llvm_emit_spec(&c, m) && llvm_emit_simulate(&c, m) && llvm_emit_run(&c, m) &&
              verify(&c) && optimise(&c) && write_output(&c, o);
    llvm_ctx_free(&c);
    return ok;
}
