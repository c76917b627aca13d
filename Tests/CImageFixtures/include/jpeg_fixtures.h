// Test fixtures only: JPEGs written with chosen chroma sampling, progression and colour space,
// so the decoder is tested on forms the corpus lacks. Inputs are always valid, so libjpeg's
// default error handler (which exits) is acceptable here and nowhere else.
#ifndef CJPEG_FIXTURES_H
#define CJPEG_FIXTURES_H
#include <stddef.h>

/// Colour spaces of the written file.
enum { FIXTURE_GREY = 1, FIXTURE_YCBCR = 3, FIXTURE_YCCK = 4 };

/// Encodes packed rows (1 grey, 3 RGB or 4 CMYK samples a pixel) at `quality`. Luma sampling is
/// h x v (chroma 1 x 1); `progressive` selects libjpeg's simple progression. *output is malloc'd.
void fixture_jpeg_encode(const unsigned char *pixels, int width, int height, int colour_space, int h_sampling,
                         int v_sampling, int progressive, int quality, unsigned char **output,
                         unsigned long *output_length);
void fixture_free(void *pointer);
#endif
