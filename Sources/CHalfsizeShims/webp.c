#include "CHalfsizeShims.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
#include <webp/mux.h>

static const char *status_text(VP8StatusCode status) {
    switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "the bitstream is broken";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "an unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "the file is cut short";
    default: return "unknown error";
    }
}

static int fail(char message[200], int status, const char *text) {
    snprintf(message, 200, "%s", text);
    return status;
}

int hs_webp_probe(const unsigned char *data, size_t length, uint64_t max_pixels, int max_frames, hs_webp_info *info) {
    memset(info, 0, sizeof *info);
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(data, length, &features);
    if (status != VP8_STATUS_OK) return fail(info->message, HS_CORRUPT, status_text(status));
    WebPData input = {data, length};
    WebPDemuxer *demux = WebPDemux(&input);
    if (demux == NULL) return fail(info->message, HS_CORRUPT, "the container is broken");
    info->width = (int)WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
    info->height = (int)WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
    info->frame_count = (int)WebPDemuxGetI(demux, WEBP_FF_FRAME_COUNT);
    info->loop_count = (int)WebPDemuxGetI(demux, WEBP_FF_LOOP_COUNT);
    info->background = WebPDemuxGetI(demux, WEBP_FF_BACKGROUND_COLOR);
    info->animated = features.has_animation;
    info->has_alpha = features.has_alpha;
    info->lossless = features.format == 2;
    if (info->animated) {
        // A mixed animation is lossless only if every frame is.
        WebPIterator frame;
        int lossless = 1;
        if (WebPDemuxGetFrame(demux, 1, &frame)) {
            do {
                WebPBitstreamFeatures frame_features;
                if (WebPGetFeatures(frame.fragment.bytes, frame.fragment.size, &frame_features) != VP8_STATUS_OK ||
                    frame_features.format != 2) lossless = 0;
            } while (WebPDemuxNextFrame(&frame));
            WebPDemuxReleaseIterator(&frame);
        }
        info->lossless = lossless;
    }
    WebPChunkIterator chunk;
    if (WebPDemuxGetChunk(demux, "ICCP", 1, &chunk)) {
        info->icc = chunk.chunk.bytes;
        info->icc_length = chunk.chunk.size;
        WebPDemuxReleaseChunkIterator(&chunk);
    }
    if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
        info->exif = chunk.chunk.bytes;
        info->exif_length = chunk.chunk.size;
        WebPDemuxReleaseChunkIterator(&chunk);
    }
    WebPDemuxDelete(demux);
    uint64_t frames = info->frame_count > 0 ? (uint64_t)info->frame_count : 1;
    if (info->width <= 0 || info->height <= 0) return fail(info->message, HS_CORRUPT, "the canvas has no size");
    if (max_frames > 0 && frames > (uint64_t)max_frames) {
        snprintf(info->message, sizeof info->message, "%llu frames, more than the %d allowed", (unsigned long long)frames, max_frames);
        return HS_TOO_LARGE;
    }
    if ((uint64_t)info->width * (uint64_t)info->height * frames > max_pixels) {
        snprintf(info->message, sizeof info->message, "%d x %d pixels x %llu frames, more than the %llu allowed",
                 info->width, info->height, (unsigned long long)frames, (unsigned long long)max_pixels);
        return HS_TOO_LARGE;
    }
    return HS_OK;
}

static int decode_into(const unsigned char *data, size_t length, int channels, int width, int height, int scale,
                       unsigned char *pixels, char message[200]) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return fail(message, HS_CORRUPT, "libwebp version mismatch");
    config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = pixels;
    config.output.u.RGBA.stride = width * channels;
    config.output.u.RGBA.size = (size_t)width * (size_t)height * (size_t)channels;
    if (scale) {
        config.options.use_scaling = 1;
        config.options.scaled_width = width;
        config.options.scaled_height = height;
    }
    VP8StatusCode status = WebPDecode(data, length, &config);
    WebPFreeDecBuffer(&config.output);
    if (status == VP8_STATUS_OUT_OF_MEMORY) return fail(message, HS_NO_MEMORY, status_text(status));
    if (status != VP8_STATUS_OK) return fail(message, HS_CORRUPT, status_text(status));
    return HS_OK;
}

int hs_webp_decode(const unsigned char *data, size_t length, int channels, unsigned char *pixels, char message[200]) {
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(data, length, &features);
    if (status != VP8_STATUS_OK) return fail(message, HS_CORRUPT, status_text(status));
    return decode_into(data, length, channels, features.width, features.height, 0, pixels, message);
}

int hs_webp_decode_scaled(const unsigned char *data, size_t length, int width, int height, unsigned char *pixels, char message[200]) {
    return decode_into(data, length, 3, width, height, 1, pixels, message);
}

struct hs_webp_frames {
    WebPAnimDecoder *decoder;
};

int hs_webp_frames_open(const unsigned char *data, size_t length, hs_webp_frames **result, char message[200]) {
    *result = NULL;
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) return fail(message, HS_CORRUPT, "libwebp version mismatch");
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    WebPData input = {data, length};
    WebPAnimDecoder *decoder = WebPAnimDecoderNew(&input, &options);
    if (decoder == NULL) return fail(message, HS_CORRUPT, "the animation cannot be read");
    hs_webp_frames *frames = malloc(sizeof *frames);
    if (frames == NULL) {
        WebPAnimDecoderDelete(decoder);
        return fail(message, HS_NO_MEMORY, "no memory for the animation reader");
    }
    frames->decoder = decoder;
    *result = frames;
    return HS_OK;
}

int hs_webp_frames_next(hs_webp_frames *frames, const unsigned char **canvas, int *end_ms) {
    *canvas = NULL;
    *end_ms = 0;
    if (!WebPAnimDecoderHasMoreFrames(frames->decoder)) return HS_OK;
    uint8_t *buffer = NULL;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(frames->decoder, &buffer, &timestamp)) return HS_CORRUPT;
    *canvas = buffer;
    *end_ms = timestamp;
    return HS_OK;
}

void hs_webp_frames_close(hs_webp_frames *frames) {
    if (frames == NULL) return;
    WebPAnimDecoderDelete(frames->decoder);
    free(frames);
}

static int configure(WebPConfig *config, int lossless, float quality) {
    if (!WebPConfigInit(config)) return 0;
    config->lossless = lossless;
    config->quality = lossless ? 70 : quality;  // for lossless, quality is effort
    config->method = lossless ? 1 : 4;          // lossless method 1: close to the best size, far faster than 4+
    config->exact = 0;
    return WebPValidateConfig(config);
}

static int import_picture(WebPPicture *picture, const unsigned char *pixels, int width, int height, int channels, int lossless) {
    if (!WebPPictureInit(picture)) return 0;
    picture->width = width;
    picture->height = height;
    picture->use_argb = lossless;
    return channels == 4 ? WebPPictureImportRGBA(picture, pixels, width * 4) : WebPPictureImportRGB(picture, pixels, width * 3);
}

/// Puts the ICC profile into an assembled WebP (replacing `*bytes` on success).
static int add_icc(WebPData *image, const unsigned char *icc, size_t icc_length, char message[200]) {
    if (icc == NULL || icc_length == 0) return HS_OK;
    WebPMux *mux = WebPMuxCreate(image, 1);
    if (mux == NULL) return fail(message, HS_NO_MEMORY, "cannot add the ICC profile");
    WebPData profile = {icc, icc_length};
    WebPData assembled = {NULL, 0};
    int ok = WebPMuxSetChunk(mux, "ICCP", &profile, 1) == WEBP_MUX_OK && WebPMuxAssemble(mux, &assembled) == WEBP_MUX_OK;
    WebPMuxDelete(mux);
    if (!ok) return fail(message, HS_CORRUPT, "cannot add the ICC profile");
    WebPDataClear(image);
    *image = assembled;
    return HS_OK;
}

int hs_webp_encode(const unsigned char *pixels, int width, int height, int channels, int lossless, float quality,
                   const unsigned char *icc, size_t icc_length, unsigned char **output, size_t *output_length, char message[200]) {
    *output = NULL;
    *output_length = 0;
    WebPConfig config;
    if (!configure(&config, lossless, quality)) return fail(message, HS_CORRUPT, "invalid encoder settings");
    WebPPicture picture;
    if (!import_picture(&picture, pixels, width, height, channels, lossless)) {
        WebPPictureFree(&picture);
        return fail(message, HS_NO_MEMORY, "no memory for the picture");
    }
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    picture.writer = WebPMemoryWrite;
    picture.custom_ptr = &writer;
    int ok = WebPEncode(&config, &picture);
    int error = picture.error_code;
    WebPPictureFree(&picture);
    if (!ok) {
        WebPMemoryWriterClear(&writer);
        snprintf(message, 200, "encoder error %d", error);
        return error == VP8_ENC_ERROR_OUT_OF_MEMORY ? HS_NO_MEMORY : HS_CORRUPT;
    }
    WebPData image = {writer.mem, writer.size};
    int status = add_icc(&image, icc, icc_length, message);
    if (status != HS_OK) {
        WebPDataClear(&image);
        return status;
    }
    *output = (unsigned char *)image.bytes;
    *output_length = image.size;
    return HS_OK;
}

struct hs_webp_animation {
    WebPAnimEncoder *encoder;
    WebPConfig config;
    int width, height, lossless;
};

int hs_webp_animation_new(int width, int height, int loop_count, unsigned int background, int lossless, float quality,
                          hs_webp_animation **result) {
    *result = NULL;
    hs_webp_animation *animation = calloc(1, sizeof *animation);
    if (animation == NULL) return HS_NO_MEMORY;
    WebPAnimEncoderOptions options;
    if (!WebPAnimEncoderOptionsInit(&options) || !configure(&animation->config, lossless, quality)) {
        free(animation);
        return HS_CORRUPT;
    }
    options.anim_params.loop_count = loop_count;
    options.anim_params.bgcolor = background;
    animation->encoder = WebPAnimEncoderNew(width, height, &options);
    if (animation->encoder == NULL) {
        free(animation);
        return HS_NO_MEMORY;
    }
    animation->width = width;
    animation->height = height;
    animation->lossless = lossless;
    *result = animation;
    return HS_OK;
}

int hs_webp_animation_add(hs_webp_animation *animation, const unsigned char *rgba, int start_ms, char message[200]) {
    WebPPicture picture;
    // Frames keep alpha through the animation encoder, which needs ARGB pictures.
    if (!import_picture(&picture, rgba, animation->width, animation->height, 4, 1)) {
        WebPPictureFree(&picture);
        return fail(message, HS_NO_MEMORY, "no memory for a frame");
    }
    int ok = WebPAnimEncoderAdd(animation->encoder, &picture, start_ms, &animation->config);
    WebPPictureFree(&picture);
    if (!ok) return fail(message, HS_CORRUPT, WebPAnimEncoderGetError(animation->encoder));
    return HS_OK;
}

int hs_webp_animation_finish(hs_webp_animation *animation, int end_ms, const unsigned char *icc, size_t icc_length,
                             unsigned char **output, size_t *output_length, char message[200]) {
    *output = NULL;
    *output_length = 0;
    WebPData image = {NULL, 0};
    if (!WebPAnimEncoderAdd(animation->encoder, NULL, end_ms, NULL) || !WebPAnimEncoderAssemble(animation->encoder, &image)) {
        return fail(message, HS_CORRUPT, WebPAnimEncoderGetError(animation->encoder));
    }
    int status = add_icc(&image, icc, icc_length, message);
    if (status != HS_OK) {
        WebPDataClear(&image);
        return status;
    }
    *output = (unsigned char *)image.bytes;
    *output_length = image.size;
    return HS_OK;
}

void hs_webp_animation_close(hs_webp_animation *animation) {
    if (animation == NULL) return;
    WebPAnimEncoderDelete(animation->encoder);
    free(animation);
}

void hs_webp_free(void *pointer) { WebPFree(pointer); }
