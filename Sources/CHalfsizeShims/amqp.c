#include "CHalfsizeShims.h"

void hs_amqp_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
                         int heartbeat, const char *user, const char *password, amqp_rpc_reply_t *reply) {
    *reply = amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

void hs_amqp_declare_quorum_queue(amqp_connection_state_t state, amqp_channel_t channel, const char *name,
                                  int delivery_limit, amqp_rpc_reply_t *reply) {
    amqp_table_entry_t entries[2];
    entries[0].key = amqp_cstring_bytes("x-queue-type");
    entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[0].value.value.bytes = amqp_cstring_bytes("quorum");
    int count = 1;
    if (delivery_limit > 0) {
        entries[1].key = amqp_cstring_bytes("x-delivery-limit");
        entries[1].value.kind = AMQP_FIELD_KIND_I64;
        entries[1].value.value.i64 = delivery_limit;
        count = 2;
    }
    amqp_table_t arguments = {.num_entries = count, .entries = entries};
    amqp_queue_declare(state, channel, amqp_cstring_bytes(name), 0, 1, 0, 0, arguments);
    *reply = amqp_get_rpc_reply(state);
}

void hs_amqp_consume(amqp_connection_state_t state, amqp_channel_t channel, const char *queue, amqp_rpc_reply_t *reply) {
    amqp_basic_consume(state, channel, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    *reply = amqp_get_rpc_reply(state);
}

int hs_amqp_publish_persistent(amqp_connection_state_t state, amqp_channel_t channel, const char *queue,
                               const void *body, size_t length, const char *message_id) {
    amqp_basic_properties_t properties;
    properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    properties.content_type = amqp_cstring_bytes("application/json");
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    properties.message_id = amqp_cstring_bytes(message_id);
    amqp_bytes_t bytes = {.len = length, .bytes = (void *)body};
    return amqp_basic_publish(state, channel, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &properties, bytes);
}
