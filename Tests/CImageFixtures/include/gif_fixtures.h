// Test fixtures only: GIFs written by giflib's own encoder, for the GIF tests.
#ifndef GIF_FIXTURES_H
#define GIF_FIXTURES_H
#include <stddef.h>

/// One frame: a rectangle of 8-bit indices into the global colour table.
typedef struct {
    int left, top, width, height;
    const unsigned char *indices;
    int disposal;      // 0 unspecified, 1 keep, 2 restore to background, 3 restore to previous
    int delay;         // centiseconds
    int transparent;   // index, or -1
    int interlaced;
} fixture_gif_frame;

/// A GIF89a with a global colour table of palette_size RGB entries (a power of two) and, when
/// loop_count >= 0, a NETSCAPE2.0 loop extension. *output is freed with fixture_gif_free. 0 on success.
int fixture_gif_encode(int width, int height, const unsigned char *palette, int palette_size, const fixture_gif_frame *frames,
                       int count, int loop_count, unsigned char **output, size_t *output_length);
void fixture_gif_free(void *pointer);
#endif
