#include "tiff_fixtures.h"
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

int fixture_tiff_write(const char *path, const void *pixels, int width, int height, int samples, int bits, int photometric,
                       int compression, int tiled, int orientation, int extra_alpha, int pages) {
    TIFF *tiff = TIFFOpen(path, "w");
    if (tiff == NULL) return 1;
    size_t row_bytes = (size_t)width * samples * (bits / 8);
    int failed = 0;
    for (int page = 0; page < pages && !failed; page++) {
        TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, width);
        TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, height);
        TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, samples);
        TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, bits);
        TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, photometric);
        TIFFSetField(tiff, TIFFTAG_COMPRESSION, compression);
        TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tiff, TIFFTAG_ORIENTATION, orientation);
        if (compression == COMPRESSION_JPEG) {
            TIFFSetField(tiff, TIFFTAG_JPEGQUALITY, 95);
            // RGB rows in, YCbCr 2x2 in the file: libjpeg converts.
            if (photometric == PHOTOMETRIC_YCBCR) TIFFSetField(tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        }
        if (photometric == PHOTOMETRIC_SEPARATED) TIFFSetField(tiff, TIFFTAG_INKSET, INKSET_CMYK);
        if (extra_alpha) {
            uint16_t type = extra_alpha == 1 ? EXTRASAMPLE_ASSOCALPHA : EXTRASAMPLE_UNASSALPHA;
            TIFFSetField(tiff, TIFFTAG_EXTRASAMPLES, 1, &type);
        }
        if (pages > 1) {
            TIFFSetField(tiff, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
            TIFFSetField(tiff, TIFFTAG_PAGENUMBER, page, pages);
        }
        if (tiled) {
            TIFFSetField(tiff, TIFFTAG_TILEWIDTH, 16);
            TIFFSetField(tiff, TIFFTAG_TILELENGTH, 16);
            size_t pixel_bytes = (size_t)samples * (bits / 8);
            unsigned char *tile = malloc(16 * 16 * pixel_bytes);
            for (int y = 0; y < height && !failed; y += 16) {
                for (int x = 0; x < width && !failed; x += 16) {
                    memset(tile, 0, 16 * 16 * pixel_bytes);
                    for (int row = 0; row < 16 && y + row < height; row++) {
                        int columns = width - x < 16 ? width - x : 16;
                        memcpy(tile + row * 16 * pixel_bytes, (const unsigned char *)pixels + (y + row) * row_bytes + x * pixel_bytes,
                               columns * pixel_bytes);
                    }
                    failed = TIFFWriteTile(tiff, tile, x, y, 0, 0) < 0;
                }
            }
            free(tile);
        } else {
            TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, compression == COMPRESSION_JPEG ? 16 : 4);
            for (int row = 0; row < height && !failed; row++) {
                failed = TIFFWriteScanline(tiff, (unsigned char *)pixels + row * row_bytes, row, 0) < 0;
            }
        }
        if (!failed && pages > 1) failed = !TIFFWriteDirectory(tiff);
    }
    TIFFClose(tiff);
    return failed;
}
