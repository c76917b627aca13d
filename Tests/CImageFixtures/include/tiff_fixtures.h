// Test fixtures only: TIFFs written by libtiff's own encoder, for the TIFF tests.
#ifndef TIFF_FIXTURES_H
#define TIFF_FIXTURES_H
#include <stddef.h>
#include <stdint.h>

/// Writes `pages` copies of an image to `path`: `samples` interleaved samples a pixel of
/// `bits` (8 or 16, native-endian for 16) each; photometric and compression are libtiff's codes;
/// extra_alpha 0 (none), 1 (associated) or 2 (unassociated) marks the last sample as alpha;
/// tiled writes 16 x 16 tiles instead of strips. Returns 0 on success.
int fixture_tiff_write(const char *path, const void *pixels, int width, int height, int samples, int bits, int photometric,
                       int compression, int tiled, int orientation, int extra_alpha, int pages);
#endif
