/*
 * ops.c — which operations have a handler. Everything the router can name
 * but this table lacks answers 501 NotImplemented.
 */
#include "server/internal.h"

const srv_op *srv_op_lookup(srv_op_id op)
{
    static const srv_op *const table[SRV_OP__COUNT] = {
        [SRV_OP_LIST_BUCKETS] = &srv_op_list_buckets,
        [SRV_OP_CREATE_BUCKET] = &srv_op_create_bucket,
        [SRV_OP_HEAD_BUCKET] = &srv_op_head_bucket,
        [SRV_OP_GET_BUCKET_LOCATION] = &srv_op_get_bucket_location,
        [SRV_OP_DELETE_BUCKET] = &srv_op_delete_bucket,
        [SRV_OP_LIST_OBJECTS] = &srv_op_list_objects,
        [SRV_OP_LIST_OBJECTS_V2] = &srv_op_list_objects_v2,
        [SRV_OP_PUT_OBJECT] = &srv_op_put_object,
        [SRV_OP_GET_OBJECT] = &srv_op_get_object,
        [SRV_OP_HEAD_OBJECT] = &srv_op_head_object,
        [SRV_OP_DELETE_OBJECT] = &srv_op_delete_object,
        [SRV_OP_COPY_OBJECT] = &srv_op_copy_object,
        [SRV_OP_DELETE_OBJECTS] = &srv_op_delete_objects,
        [SRV_OP_POST_OBJECT] = &srv_op_post_object,
        [SRV_OP_CREATE_MULTIPART_UPLOAD] = &srv_op_create_multipart_upload,
        [SRV_OP_UPLOAD_PART_COPY] = &srv_op_upload_part_copy,
        [SRV_OP_UPLOAD_PART] = &srv_op_upload_part,
        [SRV_OP_COMPLETE_MULTIPART_UPLOAD] = &srv_op_complete_multipart_upload,
        [SRV_OP_ABORT_MULTIPART_UPLOAD] = &srv_op_abort_multipart_upload,
        [SRV_OP_LIST_PARTS] = &srv_op_list_parts,
        [SRV_OP_LIST_MULTIPART_UPLOADS] = &srv_op_list_multipart_uploads,
    };
    return (unsigned)op < SRV_OP__COUNT ? table[op] : NULL;
}
