// JPEG decoding through libjpeg-turbo (Debian's libjpeg-dev) for `predict`. libjpeg reports
// errors by longjmp, which Swift cannot catch: this wrapper catches them and returns them.
#include <stddef.h>

/// Decodes `size` bytes of JPEG to 8-bit grey. On success returns 0, with `*pixels` (free it
/// with mlpsh_jpeg_free) of `*width` x `*height`. On failure returns -1 and a message. Images
/// of more than `max_pixels` pixels are refused before their pixels are decoded.
int mlpsh_jpeg_decode_grey(const unsigned char *data, size_t size, size_t max_pixels,
                           unsigned char **pixels, int *width, int *height,
                           char *message, size_t message_size);

/// The same, to `channels` (1: grey, 3: RGB) interleaved values a pixel.
int mlpsh_jpeg_decode(const unsigned char *data, size_t size, size_t max_pixels, int channels,
                      unsigned char **pixels, int *width, int *height,
                      char *message, size_t message_size);

void mlpsh_jpeg_free(unsigned char *pixels);
