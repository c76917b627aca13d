#include "jpeg_fixtures.h"
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>

void fixture_jpeg_encode(const unsigned char *pixels, int width, int height, int colour_space, int h_sampling,
                         int v_sampling, int progressive, int quality, unsigned char **output,
                         unsigned long *output_length) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    *output = NULL;
    *output_length = 0;
    jpeg_mem_dest(&cinfo, output, output_length);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = colour_space;
    cinfo.in_color_space = colour_space == FIXTURE_GREY ? JCS_GRAYSCALE : colour_space == FIXTURE_YCCK ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    if (colour_space == FIXTURE_YCCK) jpeg_set_colorspace(&cinfo, JCS_YCCK);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.comp_info[0].h_samp_factor = h_sampling;
    cinfo.comp_info[0].v_samp_factor = v_sampling;
    for (int i = 1; i < cinfo.num_components; i++) {
        cinfo.comp_info[i].h_samp_factor = 1;
        cinfo.comp_info[i].v_samp_factor = 1;
    }
    if (colour_space == FIXTURE_YCCK) {  // K is full resolution, like Y
        cinfo.comp_info[3].h_samp_factor = h_sampling;
        cinfo.comp_info[3].v_samp_factor = v_sampling;
    }
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)colour_space;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
}

void fixture_free(void *pointer) { free(pointer); }
