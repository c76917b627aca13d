// Test fixtures only: AVIFs written by libavif's own encoder, for the AVIF tests.
#ifndef AVIF_FIXTURES_H
#define AVIF_FIXTURES_H
#include <stddef.h>
#include <stdint.h>

/// `count` RGBA frames (one: a still) with durations in ms, 4:4:4 at quantizer 0 unless lossy,
/// alpha when has_alpha, an irot of `rotation` anticlockwise quarter turns. *output is freed with
/// fixture_avif_free. Returns 0 on success.
int fixture_avif_encode(const unsigned char *const *frames, const int *durations, int count, int width, int height, int has_alpha,
                        int rotation, unsigned char **output, size_t *output_length);
void fixture_avif_free(void *pointer);
#endif
