// Typed wrappers for the variadic C functions Swift cannot call, and every setjmp/longjmp span
// (libjpeg, libpng). Nothing here calls back into Swift while a jmp_buf is live.
#ifndef CHALFSIZE_SHIMS_H
#define CHALFSIZE_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <amqp.h>
#include <curl/curl.h>

// MARK: - rabbitmq-c

/// amqp_login with SASL PLAIN; the reply is written to *reply.
void hs_amqp_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
                         int heartbeat, const char *user, const char *password, amqp_rpc_reply_t *reply);

/// The arguments of a durable quorum queue; zero or NULL fields are left out.
typedef struct {
    int delivery_limit;              // x-delivery-limit: deliveries before the message is dead-lettered
    const char *dead_letter_exchange; // x-dead-letter-exchange, with at-least-once dead-lettering
                                      // (x-dead-letter-strategy, which needs x-overflow: reject-publish)
} hs_amqp_queue_arguments;

/// Declares a durable quorum queue (passive = 1 only checks it exists). The reply is in *reply;
/// *messages and *consumers receive the queue's ready-message and consumer counts.
void hs_amqp_declare_quorum_queue(amqp_connection_state_t state, amqp_channel_t channel, const char *name,
                                  const hs_amqp_queue_arguments *arguments, int passive,
                                  uint32_t *messages, uint32_t *consumers, amqp_rpc_reply_t *reply);

/// Declares a durable exchange of `type` (direct, fanout, topic) and binds nothing. Reply in *reply.
void hs_amqp_declare_exchange(amqp_connection_state_t state, amqp_channel_t channel, const char *name,
                              const char *type, amqp_rpc_reply_t *reply);

/// Binds `queue` to `exchange` with `pattern`. Reply in *reply.
void hs_amqp_bind(amqp_connection_state_t state, amqp_channel_t channel, const char *queue, const char *exchange,
                  const char *pattern, amqp_rpc_reply_t *reply);

/// Starts consuming `queue` with manual acks. The reply is in *reply.
void hs_amqp_consume(amqp_connection_state_t state, amqp_channel_t channel, const char *queue, amqp_rpc_reply_t *reply);

/// Publishes a persistent JSON message with `mandatory` set, so an unroutable message comes back
/// as basic.return. `sequence` (the publisher-confirm number) travels as correlation_id so a
/// returned message can be matched to its confirm; expiration_ms > 0 sets a per-message TTL.
int hs_amqp_publish(amqp_connection_state_t state, amqp_channel_t channel, const char *exchange,
                    const char *routing_key, const void *body, size_t length, const char *message_id,
                    uint64_t sequence, uint64_t expiration_ms, uint64_t timestamp);

/// The value of a string header of a message's properties, copied into `value` (empty when
/// absent). For x-death style headers that RabbitMQ sets on dead-lettered messages.
void hs_amqp_header_string(const amqp_basic_properties_t *properties, const char *key, char *value, size_t capacity);

/// The correlation_id of a message's properties as a number, or 0.
uint64_t hs_amqp_correlation_number(const amqp_basic_properties_t *properties);

// MARK: - libcurl

CURLcode hs_curl_set_long(CURL *easy, CURLoption option, long value);
CURLcode hs_curl_set_string(CURL *easy, CURLoption option, const char *value);
CURLcode hs_curl_set_pointer(CURL *easy, CURLoption option, void *value);
CURLcode hs_curl_set_offset(CURL *easy, CURLoption option, curl_off_t value);
CURLcode hs_curl_set_write_function(CURL *easy, size_t (*function)(char *, size_t, size_t, void *), void *userdata);
CURLcode hs_curl_get_long(CURL *easy, CURLINFO info, long *value);
CURLcode hs_curl_get_string(CURL *easy, CURLINFO info, const char **value);
CURLMcode hs_curlm_set_long(CURLM *multi, CURLMoption option, long value);

/// Per-transfer state of the address guard; lives as long as the easy handle.
typedef struct {
    int allow_private;   // 1: loopback and private ranges may be reached
    int blocked;         // set to 1 when a connection was refused
    char blocked_address[64];
} hs_address_guard;

/// Installs an open-socket callback that refuses loopback, private, link-local and other
/// non-public addresses (unless allowed). It runs for every connection, redirects included,
/// on the address curl actually resolved, so DNS tricks cannot bypass it.
CURLcode hs_curl_install_address_guard(CURL *easy, hs_address_guard *guard);

/// 1 when the IPv4 (4 bytes) or IPv6 (16 bytes) address is publicly routable.
int hs_address_is_public(const unsigned char *address, size_t length);

// MARK: - Images

enum {
    HS_OK = 0,
    HS_CORRUPT = 1,
    HS_TOO_LARGE = 2,
    HS_NO_MEMORY = 3,
};

/// What a JPEG decoder knows once decompression has started.
typedef struct {
    int width, height;            // of the output, after DCT scaling
    int components;               // 1 grey or 3 RGB (CMYK and YCCK are converted to RGB)
    int source_width, source_height;
    unsigned char *exif;          // APP1 payload after "Exif\0\0", or NULL; owned by the decoder
    unsigned int exif_length;
    unsigned char *icc;           // ICC profile, or NULL; owned by the decoder
    unsigned int icc_length;
    int warnings;
    char message[200];            // error message, or the first warning
} hs_jpeg_info;

/// A JPEG decoder between its header and its last row. Every call runs its libjpeg work inside
/// its own setjmp frame, so a corrupt image returns a status instead of exiting.
typedef struct hs_jpeg_decoder hs_jpeg_decoder;

/// Reads the header, checks the pixel count before any pixel memory exists, and starts
/// decompression at 1/scale_denom in the DCT domain. max_scans bounds progressive scans (0: none).
/// *decoder is set even on failure and must be closed; `data` must outlive it.
int hs_jpeg_decoder_open(const unsigned char *data, size_t length, int scale_denom, uint64_t max_pixels,
                         int max_scans, hs_jpeg_decoder **decoder);
const hs_jpeg_info *hs_jpeg_decoder_info(const hs_jpeg_decoder *decoder);
/// Decodes every row into `pixels` (width * height * components bytes).
int hs_jpeg_decoder_read(hs_jpeg_decoder *decoder, unsigned char *pixels);
/// Decodes and encodes row by row without a whole-image buffer; *output is malloc'd.
/// optimize_huffman fits the Huffman tables to the image (smaller, slower). *encode_nanoseconds
/// is the part of the time spent encoding (the rest decoded).
int hs_jpeg_decoder_transcode(hs_jpeg_decoder *decoder, int quality, int optimize_huffman, const unsigned char *icc,
                              unsigned int icc_length,
                              unsigned char **output, unsigned long *output_length, uint64_t *encode_nanoseconds);
void hs_jpeg_decoder_close(hs_jpeg_decoder *decoder);

/// Encodes packed 8-bit grey (1) or RGB (3) rows; *output is malloc'd.
int hs_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality, int optimize_huffman,
                   const unsigned char *icc, unsigned int icc_length,
                   unsigned char **output, unsigned long *output_length, char message[200]);

/// What a PNG decoder knows once the header is read. Pixels come out as 8-bit channels.
typedef struct {
    int width, height, channels;  // channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    int source_color_type;        // PNG_COLOR_TYPE_*
    int interlaced;
    unsigned char palette[1024];  // a palette source's entries as RGBA, before expansion
    int palette_size;
    unsigned char *icc;           // iCCP profile, or NULL; owned by the decoder
    unsigned int icc_length;
    char icc_name[80];
    int warnings;
    char message[200];            // error message, or the first warning
} hs_png_info;

/// A PNG decoder past its header. Every call runs its libpng work inside its own setjmp frame.
typedef struct hs_png_decoder hs_png_decoder;

/// Checks the signature and the IHDR size (before any pixel memory exists) and reads the
/// header. *decoder is set even on failure and must be closed; `data` must outlive it.
int hs_png_decoder_open(const unsigned char *data, size_t length, uint64_t max_pixels, hs_png_decoder **decoder);
const hs_png_info *hs_png_decoder_info(const hs_png_decoder *decoder);
/// Reads the next `count` rows of a non-interlaced image into `pixels`, packed.
int hs_png_decoder_read_rows(hs_png_decoder *decoder, unsigned char *pixels, int count);
/// Reads the whole image (interlaced or not) into `pixels`, packed.
int hs_png_decoder_read_image(hs_png_decoder *decoder, unsigned char *pixels);
void hs_png_decoder_close(hs_png_decoder *decoder);

/// Encodes packed 8-bit rows with `channels` channels, or, when palette is not NULL, 8-bit
/// indices into palette (palette_size RGB triples) with optional alpha per entry (trns).
int hs_png_encode(const unsigned char *pixels, int width, int height, int channels,
                  const unsigned char *palette, int palette_size, const unsigned char *trns, int trns_size,
                  int compression_level, const unsigned char *icc, unsigned int icc_length, const char *icc_name,
                  unsigned char **output, size_t *output_length, char message[200]);

// MARK: - WebP (libwebp reports errors by return value: no setjmp here)

typedef struct {
    int width, height;           // the canvas
    int has_alpha, animated, lossless;
    int frame_count, loop_count;
    unsigned int background;     // an animation's background colour, as libwebp gives it
    const unsigned char *icc;    // points into the input
    size_t icc_length;
    const unsigned char *exif;   // points into the input
    size_t exif_length;
    char message[200];
} hs_webp_info;

/// Reads the header and chunks; refuses more than max_pixels × max_frames pixels in all, or more
/// than max_frames frames, before anything is decoded.
int hs_webp_probe(const unsigned char *data, size_t length, uint64_t max_pixels, int max_frames, hs_webp_info *info);
/// Decodes a still image at full size, 8-bit RGBA (channels 4) or RGB (3), packed.
int hs_webp_decode(const unsigned char *data, size_t length, int channels, unsigned char *pixels, char message[200]);
/// Decodes a still opaque image straight to width × height RGB with libwebp's area-averaging scaler.
int hs_webp_decode_scaled(const unsigned char *data, size_t length, int width, int height, unsigned char *pixels, char message[200]);

/// An animation's frames, each the whole canvas as RGBA, in order.
typedef struct hs_webp_frames hs_webp_frames;
int hs_webp_frames_open(const unsigned char *data, size_t length, hs_webp_frames **frames, char message[200]);
/// The next canvas (owned by the reader, valid until the next call) and when it ends, in ms; 0 at the end.
int hs_webp_frames_next(hs_webp_frames *frames, const unsigned char **canvas, int *end_ms);
void hs_webp_frames_close(hs_webp_frames *frames);

/// Encodes packed RGBA (channels 4) or RGB (3): lossless, or lossy at quality; with an ICC profile if given.
int hs_webp_encode(const unsigned char *pixels, int width, int height, int channels, int lossless, float quality,
                   const unsigned char *icc, size_t icc_length, unsigned char **output, size_t *output_length, char message[200]);

/// An animation being written: frames of RGBA canvases, each from its start time.
typedef struct hs_webp_animation hs_webp_animation;
int hs_webp_animation_new(int width, int height, int loop_count, unsigned int background, int lossless, float quality,
                          hs_webp_animation **animation);
int hs_webp_animation_add(hs_webp_animation *animation, const unsigned char *rgba, int start_ms, char message[200]);
/// Ends the animation at end_ms and assembles it (with the ICC profile if given).
int hs_webp_animation_finish(hs_webp_animation *animation, int end_ms, const unsigned char *icc, size_t icc_length,
                             unsigned char **output, size_t *output_length, char message[200]);
void hs_webp_animation_close(hs_webp_animation *animation);

/// Frees what an encoder above returned.
void hs_webp_free(void *pointer);

// MARK: - GIF (giflib reports errors by value: no setjmp here)

typedef struct {
    int width, height;   // the logical screen
    int frame_count;
    int loop_count;      // the NETSCAPE2.0 loop count (0: for ever), or -1 without one
    char message[200];
} hs_gif_info;

/// Reads every record without decoding pixels: the size, the frames, the loop count. Refuses more
/// than max_frames frames, or more than max_pixels pixels in all frames' canvases together.
int hs_gif_probe(const unsigned char *data, size_t length, uint64_t max_pixels, int max_frames, hs_gif_info *info);
/// Decodes every frame onto the canvas as a viewer shows it (transparency and disposal applied):
/// frame_capacity canvases of width × height RGBA, each frame's delay (centiseconds) and its colour
/// table (256 RGB entries a frame, of which palette_sizes[i] are used).
int hs_gif_decode(const unsigned char *data, size_t length, int frame_capacity, unsigned char *canvases, int *delays,
                  unsigned char *palettes, int *palette_sizes, char message[200]);
/// Writes frames of 8-bit indices (width × height each), each with its own colour table
/// (256 RGB entries a frame), transparent index (-1: none) and delay; the NETSCAPE loop count when
/// loop_count >= 0 and there is more than one frame. *output is freed with hs_free.
int hs_gif_encode(const unsigned char *indices, int width, int height, int frames, const unsigned char *palettes,
                  const int *palette_sizes, const int *transparent, const int *delays, int loop_count,
                  unsigned char **output, size_t *output_length, char message[200]);

// MARK: - TIFF (libtiff; errors reach a handler kept per file, never a global one)

typedef struct {
    int width, height;
    int orientation;             // the TIFF orientation tag, 1-8 (EXIF's numbering)
    int pages;
    const unsigned char *icc;    // owned by the open file
    unsigned int icc_length;
    char message[200];
} hs_tiff_info;

typedef struct hs_tiff hs_tiff;
/// Opens the first page; refuses more than max_pixels and what libtiff's RGBA reader cannot read.
/// Close the file (set even on failure, unless out of memory) with hs_tiff_close.
int hs_tiff_open(const unsigned char *data, size_t length, uint64_t max_pixels, hs_tiff **file);
const hs_tiff_info *hs_tiff_file_info(const hs_tiff *file);
/// The first page as 8-bit RGBA (alpha not premultiplied), rows as stored, top-down.
int hs_tiff_read_rgba(hs_tiff *file, unsigned char *pixels);
void hs_tiff_close(hs_tiff *file);

// MARK: - AVIF (libavif reports errors by value: no setjmp here)

typedef struct {
    int width, height;
    int frame_count;             // 1 for a still, more for an image sequence
    int has_alpha;
    int rotation;                // irot: quarter turns anticlockwise to display, 0-3
    int mirror;                  // imir: 0 top and bottom exchanged, 1 left and right, -1 none
    uint64_t timescale;          // ticks a second of the frame durations
    const unsigned char *icc;    // owned by the reader
    size_t icc_length;
    const unsigned char *exif;   // owned by the reader
    size_t exif_length;
    char message[200];
} hs_avif_info;

typedef struct hs_avif_reader hs_avif_reader;
/// Parses the boxes (no pixel decoded) and refuses more than max_pixels in all frames or more
/// than max_frames frames. Close the reader (set even on failure, unless out of memory) with hs_avif_close.
int hs_avif_open(const unsigned char *data, size_t length, uint64_t max_pixels, int max_frames, hs_avif_reader **reader);
const hs_avif_info *hs_avif_reader_info(const hs_avif_reader *reader);
/// The next frame as 8-bit RGBA, and how long it shows (in timescale ticks).
int hs_avif_next_rgba(hs_avif_reader *reader, unsigned char *pixels, uint64_t *duration);
void hs_avif_close(hs_avif_reader *reader);

typedef struct hs_avif_writer hs_avif_writer;
/// An encoder at quality 1-100 and libavif speed 0-10 (10 fastest), durations in timescale ticks.
int hs_avif_writer_new(int quality, int speed, uint64_t timescale, hs_avif_writer **writer);
/// Adds packed RGBA (has_alpha) or RGB rows; `single` for a still image.
int hs_avif_writer_add(hs_avif_writer *writer, const unsigned char *pixels, int width, int height, int has_alpha,
                       const unsigned char *icc, size_t icc_length, uint64_t duration, int single, char message[200]);
/// The encoded file; *output is freed with hs_free.
int hs_avif_writer_finish(hs_avif_writer *writer, unsigned char **output, size_t *output_length, char message[200]);
void hs_avif_writer_close(hs_avif_writer *writer);

void hs_free(void *pointer);

// MARK: - allocator

/// Keeps freed buffers in the process for the next image instead of returning them to the kernel.
void hs_malloc_keep_freed_blocks(void);

#endif
