/* err.c — names and S3 codes of the tarn_err values (common.h). */
#include "common.h"

static const char *const err_codes[] = {
#define X(name, code) code,
    TARN_ERRORS(X)
#undef X
};

static const char *const err_names[] = {
#define X(name, code) #name,
    TARN_ERRORS(X)
#undef X
};

static int err_index(int err)
{
    int i = err - (int)TARN_E__BASE - 1;
    return (i >= 0 && i < TARN_ERR_COUNT) ? i : -1;
}

const char *tarn_err_code(int err)
{
    int i = err_index(err);
    return i < 0 ? "InternalError" : err_codes[i];
}

const char *tarn_err_name(int err)
{
    if (err == 0)
        return "OK";
    int i = err_index(err);
    return i < 0 ? "UNKNOWN" : err_names[i];
}
