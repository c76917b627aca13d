#include "CHalfsizeShims.h"
#include <gif_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// giflib reports errors by value (no setjmp), reading from and writing to memory through callbacks.

typedef struct {
    const unsigned char *data;
    size_t length, offset;
} gif_source;

static int read_memory(GifFileType *gif, GifByteType *destination, int length) {
    gif_source *source = gif->UserData;
    size_t available = source->length - source->offset;
    size_t count = (size_t)length < available ? (size_t)length : available;
    memcpy(destination, source->data + source->offset, count);
    source->offset += count;
    return (int)count;
}

static int fail_with(char message[200], int status, const char *what, int error) {
    const char *text = GifErrorString(error);
    snprintf(message, 200, "%s%s%s", what, text ? ": " : "", text ? text : "");
    return status;
}

static GifFileType *open_gif(gif_source *source, char message[200], int *status) {
    int error = 0;
    GifFileType *gif = DGifOpen(source, read_memory, &error);
    if (gif == NULL) *status = fail_with(message, error == D_GIF_ERR_NOT_ENOUGH_MEM ? HS_NO_MEMORY : HS_CORRUPT, "not a readable GIF", error);
    return gif;
}

/// Reads an extension's sub-blocks; returns the NETSCAPE loop count when it is one (else keeps *loop).
static int read_extension(GifFileType *gif, GraphicsControlBlock *control, int *loop) {
    int code = 0;
    GifByteType *block = NULL;
    if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) return GIF_ERROR;
    int netscape = 0;
    if (code == GRAPHICS_EXT_FUNC_CODE && block != NULL && control != NULL) DGifExtensionToGCB(block[0], block + 1, control);
    if (code == APPLICATION_EXT_FUNC_CODE && block != NULL && block[0] >= 11 && memcmp(block + 1, "NETSCAPE2.0", 11) == 0) netscape = 1;
    while (block != NULL) {
        if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return GIF_ERROR;
        if (netscape && block != NULL && block[0] >= 3 && block[1] == 1) *loop = block[2] | block[3] << 8;
    }
    return GIF_OK;
}

int hs_gif_probe(const unsigned char *data, size_t length, uint64_t max_pixels, int max_frames, hs_gif_info *info) {
    memset(info, 0, sizeof *info);
    info->loop_count = -1;
    gif_source source = {data, length, 0};
    int status = HS_OK;
    GifFileType *gif = open_gif(&source, info->message, &status);
    if (gif == NULL) return status;
    info->width = gif->SWidth;
    info->height = gif->SHeight;
    uint64_t canvas = (uint64_t)gif->SWidth * (uint64_t)gif->SHeight;
    GifRecordType type;
    do {
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) { status = fail_with(info->message, HS_CORRUPT, "broken record", gif->Error); break; }
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) { status = fail_with(info->message, HS_CORRUPT, "broken frame header", gif->Error); break; }
            info->frame_count += 1;
            uint64_t frame = (uint64_t)gif->Image.Width * (uint64_t)gif->Image.Height;
            if (canvas == 0 || (max_frames > 0 && info->frame_count > max_frames) || canvas * (uint64_t)info->frame_count > max_pixels ||
                frame > max_pixels) {
                snprintf(info->message, sizeof info->message, "%d x %d pixels x %d+ frames, more than the %llu pixels or %d frames allowed",
                         info->width, info->height, info->frame_count, (unsigned long long)max_pixels, max_frames);
                status = HS_TOO_LARGE;
                break;
            }
            // Skip the compressed pixels without decoding them.
            int code_size = 0;
            GifByteType *block = NULL;
            if (DGifGetCode(gif, &code_size, &block) == GIF_ERROR) { status = fail_with(info->message, HS_CORRUPT, "broken pixel data", gif->Error); break; }
            while (block != NULL) {
                if (DGifGetCodeNext(gif, &block) == GIF_ERROR) { status = fail_with(info->message, HS_CORRUPT, "broken pixel data", gif->Error); break; }
            }
            if (status != HS_OK) break;
        } else if (type == EXTENSION_RECORD_TYPE) {
            if (read_extension(gif, NULL, &info->loop_count) == GIF_ERROR) { status = fail_with(info->message, HS_CORRUPT, "broken extension", gif->Error); break; }
        }
    } while (type != TERMINATE_RECORD_TYPE);
    if (status == HS_OK && info->frame_count == 0) status = fail_with(info->message, HS_CORRUPT, "the GIF has no image", 0);
    int error = 0;
    DGifCloseFile(gif, &error);
    return status;
}

static const int interlace_start[] = {0, 4, 2, 1};
static const int interlace_step[] = {8, 8, 4, 2};

int hs_gif_decode(const unsigned char *data, size_t length, int frame_capacity, unsigned char *canvases, int *delays,
                  unsigned char *palettes, int *palette_sizes, char message[200]) {
    gif_source source = {data, length, 0};
    int status = HS_OK;
    GifFileType *gif = open_gif(&source, message, &status);
    if (gif == NULL) return status;
    const int width = gif->SWidth, height = gif->SHeight;
    const size_t canvas_bytes = (size_t)width * (size_t)height * 4;
    unsigned char *canvas = calloc(canvas_bytes, 1);     // starts transparent
    unsigned char *saved = malloc(canvas_bytes);         // for "restore to previous"
    GifPixelType *line = malloc((size_t)65536);
    if (canvas == NULL || saved == NULL || line == NULL) {
        free(canvas); free(saved); free(line);
        int error = 0;
        DGifCloseFile(gif, &error);
        return fail_with(message, HS_NO_MEMORY, "no memory for the canvas", 0);
    }
    GraphicsControlBlock control = {DISPOSAL_UNSPECIFIED, false, 0, NO_TRANSPARENT_COLOR};
    int frame = 0, loop = -1;
    GifRecordType type;
    do {
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) { status = fail_with(message, HS_CORRUPT, "broken record", gif->Error); break; }
        if (type == EXTENSION_RECORD_TYPE) {
            if (read_extension(gif, &control, &loop) == GIF_ERROR) { status = fail_with(message, HS_CORRUPT, "broken extension", gif->Error); break; }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(gif) == GIF_ERROR) { status = fail_with(message, HS_CORRUPT, "broken frame header", gif->Error); break; }
        if (frame >= frame_capacity) { status = fail_with(message, HS_CORRUPT, "more frames than the first reading found", 0); break; }
        const GifImageDesc *image = &gif->Image;
        const ColorMapObject *colours = image->ColorMap ? image->ColorMap : gif->SColorMap;
        if (colours == NULL) { status = fail_with(message, HS_CORRUPT, "a frame has no colour table", 0); break; }
        if (image->Width > 65536 || image->Width <= 0 || image->Height <= 0) { status = fail_with(message, HS_CORRUPT, "a frame has no size", 0); break; }
        if (control.DisposalMode == DISPOSE_PREVIOUS) memcpy(saved, canvas, canvas_bytes);
        for (int pass = 0, row = 0; pass < (image->Interlace ? 4 : 1) && status == HS_OK; pass++) {
            int start = image->Interlace ? interlace_start[pass] : 0, step = image->Interlace ? interlace_step[pass] : 1;
            for (row = start; row < image->Height; row += step) {
                if (DGifGetLine(gif, line, image->Width) == GIF_ERROR) { status = fail_with(message, HS_CORRUPT, "broken pixel data", gif->Error); break; }
                int y = image->Top + row;
                if (y < 0 || y >= height) continue;
                for (int column = 0; column < image->Width; column++) {
                    int x = image->Left + column, index = line[column];
                    if (x < 0 || x >= width || index == control.TransparentColor || index >= colours->ColorCount) continue;
                    unsigned char *pixel = canvas + ((size_t)y * width + x) * 4;
                    pixel[0] = colours->Colors[index].Red;
                    pixel[1] = colours->Colors[index].Green;
                    pixel[2] = colours->Colors[index].Blue;
                    pixel[3] = 255;
                }
            }
        }
        if (status != HS_OK) break;
        memcpy(canvases + canvas_bytes * frame, canvas, canvas_bytes);
        delays[frame] = control.DelayTime;
        palette_sizes[frame] = colours->ColorCount;
        for (int entry = 0; entry < colours->ColorCount && entry < 256; entry++) {
            palettes[frame * 768 + entry * 3] = colours->Colors[entry].Red;
            palettes[frame * 768 + entry * 3 + 1] = colours->Colors[entry].Green;
            palettes[frame * 768 + entry * 3 + 2] = colours->Colors[entry].Blue;
        }
        if (control.DisposalMode == DISPOSE_BACKGROUND) {
            for (int y = image->Top; y < image->Top + image->Height && y < height; y++) {
                for (int x = image->Left; x < image->Left + image->Width && x < width; x++) {
                    if (x >= 0 && y >= 0) memset(canvas + ((size_t)y * width + x) * 4, 0, 4);
                }
            }
        } else if (control.DisposalMode == DISPOSE_PREVIOUS) {
            memcpy(canvas, saved, canvas_bytes);
        }
        control = (GraphicsControlBlock){DISPOSAL_UNSPECIFIED, false, 0, NO_TRANSPARENT_COLOR};
        frame += 1;
    } while (type != TERMINATE_RECORD_TYPE);
    free(canvas); free(saved); free(line);
    int error = 0;
    DGifCloseFile(gif, &error);
    return status;
}

typedef struct {
    unsigned char *data;
    size_t length, capacity;
} gif_sink;

static int write_memory(GifFileType *gif, const GifByteType *source, int length) {
    gif_sink *sink = gif->UserData;
    if (sink->length + (size_t)length > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity * 2 : 65536;
        while (capacity < sink->length + (size_t)length) capacity *= 2;
        unsigned char *grown = realloc(sink->data, capacity);
        if (grown == NULL) return 0;
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->length, source, (size_t)length);
    sink->length += (size_t)length;
    return length;
}

int hs_gif_encode(const unsigned char *indices, int width, int height, int frames, const unsigned char *palettes,
                  const int *palette_sizes, const int *transparent, const int *delays, int loop_count,
                  unsigned char **output, size_t *output_length, char message[200]) {
    *output = NULL;
    *output_length = 0;
    gif_sink sink = {NULL, 0, 0};
    int error = 0;
    GifFileType *gif = EGifOpen(&sink, write_memory, &error);
    if (gif == NULL) return fail_with(message, HS_NO_MEMORY, "cannot start the GIF", error);
    EGifSetGifVersion(gif, true);
    int status = HS_OK;
    if (EGifPutScreenDesc(gif, width, height, 8, 0, NULL) == GIF_ERROR) status = fail_with(message, HS_CORRUPT, "screen", gif->Error);
    if (status == HS_OK && frames > 1 && loop_count >= 0) {
        unsigned char loop[3] = {1, (unsigned char)(loop_count & 255), (unsigned char)(loop_count >> 8)};
        if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR || EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR ||
            EGifPutExtensionBlock(gif, 3, loop) == GIF_ERROR || EGifPutExtensionTrailer(gif) == GIF_ERROR) {
            status = fail_with(message, HS_CORRUPT, "loop extension", gif->Error);
        }
    }
    for (int frame = 0; frame < frames && status == HS_OK; frame++) {
        // Every frame is a whole canvas: each clears itself before the next ("restore to background").
        GraphicsControlBlock control = {frames > 1 ? DISPOSE_BACKGROUND : DISPOSAL_UNSPECIFIED, false, delays[frame], transparent[frame]};
        GifByteType extension[4];
        size_t extension_length = EGifGCBToExtension(&control, extension);
        int colour_count = 2;
        while (colour_count < palette_sizes[frame]) colour_count *= 2;  // a colour table has 2^n entries
        GifColorType colours[256];
        memset(colours, 0, sizeof colours);
        for (int entry = 0; entry < palette_sizes[frame]; entry++) {
            colours[entry].Red = palettes[frame * 768 + entry * 3];
            colours[entry].Green = palettes[frame * 768 + entry * 3 + 1];
            colours[entry].Blue = palettes[frame * 768 + entry * 3 + 2];
        }
        ColorMapObject *map = GifMakeMapObject(colour_count, colours);
        if (map == NULL) { status = fail_with(message, HS_NO_MEMORY, "colour table", 0); break; }
        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)extension_length, extension) == GIF_ERROR ||
            EGifPutImageDesc(gif, 0, 0, width, height, false, map) == GIF_ERROR) {
            status = fail_with(message, HS_CORRUPT, "frame header", gif->Error);
        }
        GifFreeMapObject(map);
        for (int row = 0; row < height && status == HS_OK; row++) {
            const GifPixelType *pixels = indices + ((size_t)frame * height + row) * width;
            if (EGifPutLine(gif, (GifPixelType *)pixels, width) == GIF_ERROR) status = fail_with(message, HS_CORRUPT, "pixels", gif->Error);
        }
    }
    if (EGifCloseFile(gif, &error) == GIF_ERROR && status == HS_OK) status = fail_with(message, HS_CORRUPT, "closing the GIF", error);
    if (status != HS_OK) {
        free(sink.data);
        return status;
    }
    *output = sink.data;
    *output_length = sink.length;
    return HS_OK;
}
