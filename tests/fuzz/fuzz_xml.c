/*
 * fuzz_xml.c — the XML request bodies tarn parses (libxml2 underneath):
 * CreateBucketConfiguration (srv_xml_parse_create_bucket),
 * CompleteMultipartUpload (srv_xml_parse_complete) and DeleteObjects
 * (srv_xml_parse_delete). Input: one byte picks the parser (% 3), the rest
 * is the body. On success every string handed back is read (so ASan sees
 * a bad pointer) and the documented limits are checked.
 */
#include "server/internal.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    tarn_arena *a = tarn_arena_create(0);
    uint8_t which = fz_u8(&f) % 3;
    const char *body = (const char *)f.p;
    if (which == 0) {
        const char *loc;
        if (srv_xml_parse_create_bucket(a, body, f.n, &loc) == 0)
            fz_touch_str(loc);
    } else if (which == 1) {
        srv_complete_part *parts;
        size_t n;
        if (srv_xml_parse_complete(a, body, f.n, &parts, &n) == 0) {
            if (n == 0 || n > 10000)
                __builtin_trap();
            for (size_t i = 0; i < n; i++) {
                if (!parts[i].etag || !parts[i].has_number || parts[i].number > 10000)
                    __builtin_trap();
                fz_touch_str(parts[i].etag);
                for (int c = 0; c < 5; c++)
                    fz_touch_str(parts[i].checksum[c]);
            }
        }
    } else {
        srv_delete_key *keys;
        size_t n;
        int quiet;
        if (srv_xml_parse_delete(a, body, f.n, 1000, &keys, &n, &quiet) == 0) {
            if (n == 0 || n > 1000)
                __builtin_trap();
            for (size_t i = 0; i < n; i++) {
                if (!keys[i].key || strlen(keys[i].key) != keys[i].key_len)
                    __builtin_trap();
                fz_touch_str(keys[i].version_id);
            }
        }
    }
    tarn_arena_destroy(a);
    return 0;
}
