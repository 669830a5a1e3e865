/* error.c — the thread's last error message behind cml_last_error(). The
 * runtime reports failures as a status plus this message, never by exiting. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *cml_last_error(void) { return last_error; }

void cml_clear_error(void) { last_error[0] = '\0'; }

cml_status cml_error(cml_status s, const char *fmt, ...) {
    /* format into a temporary first: callers may pass cml_last_error() as an
     * argument (to add a prefix), and vsnprintf into its own source is UB */
    char buf[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof buf);
    return s;
}

const char *cml_status_name(cml_status s) {
    switch (s) {
    case CML_OK: return "CML_OK";
    case CML_ERR_ARG: return "CML_ERR_ARG";
    case CML_ERR_NOMEM: return "CML_ERR_NOMEM";
    case CML_ERR_IO: return "CML_ERR_IO";
    case CML_ERR_FORMAT: return "CML_ERR_FORMAT";
    case CML_ERR_MISMATCH: return "CML_ERR_MISMATCH";
    case CML_ERR_INFEASIBLE: return "CML_ERR_INFEASIBLE";
    case CML_ERR_INSECURE: return "CML_ERR_INSECURE";
    case CML_ERR_INTERNAL: return "CML_ERR_INTERNAL";
    }
    return "CML_ERR_UNKNOWN";
}
