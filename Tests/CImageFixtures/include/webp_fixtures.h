// Test fixtures only: WebPs written by libwebp's own encoders, for the WebP tests.
#ifndef WEBP_FIXTURES_H
#define WEBP_FIXTURES_H
#include <stddef.h>

/// A still from packed RGBA (channels 4) or RGB (3), lossless or lossy at quality, with an EXIF
/// orientation chunk (when orientation > 1) and an ICC profile (when icc_length > 0). *output is
/// freed with fixture_webp_free. Returns 0 on success.
int fixture_webp_encode(const unsigned char *pixels, int width, int height, int channels, int lossless, int quality,
                        int orientation, const unsigned char *icc, size_t icc_length,
                        unsigned char **output, size_t *output_length);
/// An animation of `count` RGBA canvases, frame i shown for durations[i] ms, looping loop_count
/// times (0: for ever).
int fixture_webp_animation(const unsigned char *const *frames, const int *durations, int count, int width, int height,
                           int loop_count, int lossless, unsigned char **output, size_t *output_length);
void fixture_webp_free(void *pointer);
#endif
