#include "cjpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    /* Set when the decoder stopped for a reason of ours (too many scans). */
    char reason[128];
};

/* The most scans a progressive JPEG may have: encoders write about ten (libjpeg's simple
   progression: 6 for grey, 10 for colour); thousands of tiny scans are a way to make decoding
   take minutes (djpeg's -maxscans does the same). */
#define MAX_SCANS 64

static void on_error(j_common_ptr info) {
    struct failure *f = (struct failure *)info->err;
    longjmp(f->jump, 1);
}

/* Warnings are quiet, except that data ending early (a truncated file, whose missing part
   libjpeg would paint grey) is an error, as a truncated PNG is. */
static void on_message(j_common_ptr info, int level) {
    if (level < 0 && (info->err->msg_code == JWRN_JPEG_EOF || info->err->msg_code == JWRN_HIT_MARKER)) {
        info->err->error_exit(info);
    }
}

static void on_progress(j_common_ptr info) {
    struct jpeg_decompress_struct *d = (struct jpeg_decompress_struct *)info;
    if (d->input_scan_number > MAX_SCANS) {
        struct failure *f = (struct failure *)info->err;
        snprintf(f->reason, sizeof f->reason, "more than %d scans: refused", MAX_SCANS);
        longjmp(f->jump, 1);
    }
}

int mlpsh_jpeg_decode_grey(const unsigned char *data, size_t size, size_t max_pixels,
                           unsigned char **pixels, int *width, int *height,
                           char *message, size_t message_size) {
    return mlpsh_jpeg_decode(data, size, max_pixels, 1, pixels, width, height, message, message_size);
}

int mlpsh_jpeg_decode(const unsigned char *data, size_t size, size_t max_pixels, int channels,
                      unsigned char **pixels, int *width, int *height,
                      char *message, size_t message_size) {
    struct jpeg_decompress_struct info;
    struct failure f;
    unsigned char *volatile out = NULL;
    *pixels = NULL;
    struct jpeg_progress_mgr progress;
    info.err = jpeg_std_error(&f.manager);
    f.manager.error_exit = on_error;
    f.manager.emit_message = on_message;
    f.reason[0] = 0;
    progress.progress_monitor = on_progress;
    if (setjmp(f.jump)) {
        char text[JMSG_LENGTH_MAX];
        if (f.reason[0]) {
            snprintf(text, sizeof text, "%s", f.reason);
        } else {
            (*info.err->format_message)((j_common_ptr)&info, text);
        }
        snprintf(message, message_size, "%s", text);
        jpeg_destroy_decompress(&info);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&info);
    info.progress = &progress;
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if ((size_t)info.image_width * (size_t)info.image_height > max_pixels) {
        snprintf(message, message_size, "%ux%u pixels is more than the %zu accepted",
                 info.image_width, info.image_height, max_pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    info.out_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    out = malloc(stride * info.output_height);
    if (!out) {
        snprintf(message, message_size, "out of memory");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        unsigned char *row = out + (size_t)info.output_scanline * stride;
        jpeg_read_scanlines(&info, &row, 1);
    }
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    *pixels = out;
    return 0;
}

void mlpsh_jpeg_free(unsigned char *pixels) { free(pixels); }
