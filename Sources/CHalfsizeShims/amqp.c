#include "CHalfsizeShims.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hs_amqp_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
                         int heartbeat, const char *user, const char *password, amqp_rpc_reply_t *reply) {
    *reply = amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

static amqp_table_entry_t string_entry(const char *key, const char *value) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = amqp_cstring_bytes(value);
    return entry;
}

void hs_amqp_declare_quorum_queue(amqp_connection_state_t state, amqp_channel_t channel, const char *name,
                                  const hs_amqp_queue_arguments *arguments, int passive,
                                  uint32_t *messages, uint32_t *consumers, amqp_rpc_reply_t *reply) {
    amqp_table_entry_t entries[5];
    int count = 0;
    entries[count++] = string_entry("x-queue-type", "quorum");
    if (arguments != NULL && arguments->delivery_limit > 0) {
        entries[count].key = amqp_cstring_bytes("x-delivery-limit");
        entries[count].value.kind = AMQP_FIELD_KIND_I64;
        entries[count].value.value.i64 = arguments->delivery_limit;
        count++;
    }
    if (arguments != NULL && arguments->dead_letter_exchange != NULL) {
        entries[count++] = string_entry("x-dead-letter-exchange", arguments->dead_letter_exchange);
        entries[count++] = string_entry("x-dead-letter-strategy", "at-least-once");
        entries[count++] = string_entry("x-overflow", "reject-publish");
    }
    amqp_table_t table = {.num_entries = passive ? 0 : count, .entries = entries};
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(state, channel, amqp_cstring_bytes(name), passive, 1, 0, 0, table);
    *reply = amqp_get_rpc_reply(state);
    *messages = ok != NULL ? ok->message_count : 0;
    *consumers = ok != NULL ? ok->consumer_count : 0;
}

void hs_amqp_declare_exchange(amqp_connection_state_t state, amqp_channel_t channel, const char *name,
                              const char *type, amqp_rpc_reply_t *reply) {
    amqp_exchange_declare(state, channel, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
    *reply = amqp_get_rpc_reply(state);
}

void hs_amqp_bind(amqp_connection_state_t state, amqp_channel_t channel, const char *queue, const char *exchange,
                  const char *pattern, amqp_rpc_reply_t *reply) {
    amqp_queue_bind(state, channel, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange), amqp_cstring_bytes(pattern),
                    amqp_empty_table);
    *reply = amqp_get_rpc_reply(state);
}

void hs_amqp_consume(amqp_connection_state_t state, amqp_channel_t channel, const char *queue, amqp_rpc_reply_t *reply) {
    amqp_basic_consume(state, channel, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    *reply = amqp_get_rpc_reply(state);
}

int hs_amqp_publish(amqp_connection_state_t state, amqp_channel_t channel, const char *exchange,
                    const char *routing_key, const void *body, size_t length, const char *message_id,
                    uint64_t sequence, uint64_t expiration_ms, uint64_t timestamp) {
    char correlation[24], expiration[24];
    snprintf(correlation, sizeof correlation, "%" PRIu64, sequence);
    amqp_basic_properties_t properties;
    properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG
                      | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
    properties.content_type = amqp_cstring_bytes("application/json");
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    properties.message_id = amqp_cstring_bytes(message_id);
    properties.correlation_id = amqp_cstring_bytes(correlation);
    properties.timestamp = timestamp;
    if (expiration_ms > 0) {
        snprintf(expiration, sizeof expiration, "%" PRIu64, expiration_ms);
        properties._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        properties.expiration = amqp_cstring_bytes(expiration);
    }
    amqp_bytes_t bytes = {.len = length, .bytes = (void *)body};
    return amqp_basic_publish(state, channel, amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key), 1, 0,
                              &properties, bytes);
}

static void copy_bytes(amqp_bytes_t bytes, char *value, size_t capacity) {
    size_t length = bytes.len < capacity - 1 ? bytes.len : capacity - 1;
    if (length > 0) memcpy(value, bytes.bytes, length);
    value[length] = 0;
}

void hs_amqp_header_string(const amqp_basic_properties_t *properties, const char *key, char *value, size_t capacity) {
    value[0] = 0;
    if (capacity == 0 || !(properties->_flags & AMQP_BASIC_HEADERS_FLAG)) return;
    size_t key_length = strlen(key);
    for (int i = 0; i < properties->headers.num_entries; i++) {
        const amqp_table_entry_t *entry = &properties->headers.entries[i];
        if (entry->key.len != key_length || memcmp(entry->key.bytes, key, key_length) != 0) continue;
        if (entry->value.kind == AMQP_FIELD_KIND_UTF8 || entry->value.kind == AMQP_FIELD_KIND_BYTES) {
            copy_bytes(entry->value.value.bytes, value, capacity);
        }
        return;
    }
}

uint64_t hs_amqp_correlation_number(const amqp_basic_properties_t *properties) {
    if (!(properties->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)) return 0;
    char text[24];
    copy_bytes(properties->correlation_id, text, sizeof text);
    return strtoull(text, NULL, 10);
}
