#include "webp_fixtures.h"
#include <string.h>
#include <webp/encode.h>
#include <webp/mux.h>

static int picture(WebPPicture *picture, const unsigned char *pixels, int width, int height, int channels) {
    if (!WebPPictureInit(picture)) return 0;
    picture->width = width;
    picture->height = height;
    picture->use_argb = 1;
    return channels == 4 ? WebPPictureImportRGBA(picture, pixels, width * 4) : WebPPictureImportRGB(picture, pixels, width * 3);
}

int fixture_webp_encode(const unsigned char *pixels, int width, int height, int channels, int lossless, int quality,
                        int orientation, const unsigned char *icc, size_t icc_length,
                        unsigned char **output, size_t *output_length) {
    WebPConfig config;
    WebPPicture pic;
    WebPMemoryWriter writer;
    if (!WebPConfigInit(&config)) return 1;
    config.lossless = lossless;
    config.quality = (float)quality;
    config.exact = 1;
    if (!picture(&pic, pixels, width, height, channels)) return 1;
    WebPMemoryWriterInit(&writer);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &writer;
    int ok = WebPEncode(&config, &pic);
    WebPPictureFree(&pic);
    if (!ok) return 1;
    WebPData image = {writer.mem, writer.size};
    WebPMux *mux = WebPMuxCreate(&image, 1);
    WebPDataClear(&image);
    if (mux == NULL) return 1;
    // A little-endian TIFF structure with one entry: Orientation (0x0112), SHORT, 1 value.
    unsigned char exif[26] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
                              (unsigned char)orientation, 0, 0, 0, 0, 0, 0, 0};
    WebPData exif_data = {exif, sizeof exif};
    WebPData icc_data = {icc, icc_length};
    if (orientation > 1 && WebPMuxSetChunk(mux, "EXIF", &exif_data, 1) != WEBP_MUX_OK) return 1;
    if (icc_length > 0 && WebPMuxSetChunk(mux, "ICCP", &icc_data, 1) != WEBP_MUX_OK) return 1;
    WebPData assembled;
    ok = WebPMuxAssemble(mux, &assembled) == WEBP_MUX_OK;
    WebPMuxDelete(mux);
    if (!ok) return 1;
    *output = (unsigned char *)assembled.bytes;
    *output_length = assembled.size;
    return 0;
}

int fixture_webp_animation(const unsigned char *const *frames, const int *durations, int count, int width, int height,
                           int loop_count, int lossless, unsigned char **output, size_t *output_length) {
    WebPAnimEncoderOptions options;
    WebPConfig config;
    if (!WebPAnimEncoderOptionsInit(&options) || !WebPConfigInit(&config)) return 1;
    options.anim_params.loop_count = loop_count;
    config.lossless = lossless;
    config.exact = 1;
    WebPAnimEncoder *encoder = WebPAnimEncoderNew(width, height, &options);
    if (encoder == NULL) return 1;
    int start = 0;
    for (int i = 0; i < count; i++) {
        WebPPicture pic;
        if (!picture(&pic, frames[i], width, height, 4) || !WebPAnimEncoderAdd(encoder, &pic, start, &config)) {
            WebPPictureFree(&pic);
            WebPAnimEncoderDelete(encoder);
            return 1;
        }
        WebPPictureFree(&pic);
        start += durations[i];
    }
    WebPData image = {NULL, 0};
    int ok = WebPAnimEncoderAdd(encoder, NULL, start, NULL) && WebPAnimEncoderAssemble(encoder, &image);
    WebPAnimEncoderDelete(encoder);
    if (!ok) return 1;
    *output = (unsigned char *)image.bytes;
    *output_length = image.size;
    return 0;
}

void fixture_webp_free(void *pointer) { WebPFree(pointer); }
