#include "gif_fixtures.h"
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned char *data; size_t length, capacity; } sink;

static int write_memory(GifFileType *gif, const GifByteType *source, int length) {
    sink *out = gif->UserData;
    if (out->length + (size_t)length > out->capacity) {
        out->capacity = (out->length + (size_t)length) * 2 + 1024;
        out->data = realloc(out->data, out->capacity);
    }
    memcpy(out->data + out->length, source, (size_t)length);
    out->length += (size_t)length;
    return length;
}

int fixture_gif_encode(int width, int height, const unsigned char *palette, int palette_size, const fixture_gif_frame *frames,
                       int count, int loop_count, unsigned char **output, size_t *output_length) {
    sink out = {NULL, 0, 0};
    int error = 0;
    GifFileType *gif = EGifOpen(&out, write_memory, &error);
    if (gif == NULL) return 1;
    EGifSetGifVersion(gif, true);
    GifColorType colours[256];
    for (int entry = 0; entry < palette_size; entry++) {
        colours[entry].Red = palette[entry * 3];
        colours[entry].Green = palette[entry * 3 + 1];
        colours[entry].Blue = palette[entry * 3 + 2];
    }
    ColorMapObject *map = GifMakeMapObject(palette_size, colours);
    int failed = EGifPutScreenDesc(gif, width, height, 8, 0, map) == GIF_ERROR;
    GifFreeMapObject(map);
    if (!failed && loop_count >= 0) {
        unsigned char loop[3] = {1, (unsigned char)(loop_count & 255), (unsigned char)(loop_count >> 8)};
        failed = EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
                 EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR || EGifPutExtensionBlock(gif, 3, loop) == GIF_ERROR ||
                 EGifPutExtensionTrailer(gif) == GIF_ERROR;
    }
    static const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
    for (int index = 0; index < count && !failed; index++) {
        const fixture_gif_frame *frame = &frames[index];
        GraphicsControlBlock control = {frame->disposal, false, frame->delay, frame->transparent};
        GifByteType extension[4];
        size_t length = EGifGCBToExtension(&control, extension);
        failed = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)length, extension) == GIF_ERROR ||
                 EGifPutImageDesc(gif, frame->left, frame->top, frame->width, frame->height, frame->interlaced, NULL) == GIF_ERROR;
        // Interlaced rows are written in the order of the four passes.
        for (int pass = 0; pass < (frame->interlaced ? 4 : 1) && !failed; pass++) {
            for (int row = frame->interlaced ? start[pass] : 0; row < frame->height && !failed; row += frame->interlaced ? step[pass] : 1) {
                failed = EGifPutLine(gif, (GifPixelType *)frame->indices + row * frame->width, frame->width) == GIF_ERROR;
            }
        }
    }
    if (EGifCloseFile(gif, &error) == GIF_ERROR || failed) {
        free(out.data);
        return 1;
    }
    *output = out.data;
    *output_length = out.length;
    return 0;
}

void fixture_gif_free(void *pointer) { free(pointer); }
