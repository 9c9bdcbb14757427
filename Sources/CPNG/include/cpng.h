// Thin, crash-free libpng codec working on memory buffers.
// libpng reports errors with longjmp; every setjmp frame lives in cpng.c, so Swift never sees one.
#ifndef PHOSPHOR_CPNG_H
#define PHOSPHOR_CPNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key;      // Latin-1 keyword (1-79 bytes)
    char *text;     // UTF-8 for iTXt, Latin-1 for tEXt/zTXt
    size_t textLength;
    int isInternational; // 1 when the chunk was iTXt
} cpng_text;

typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;    // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette and tRNS are expanded)
    int bitDepth;    // 8 or 16; 16-bit samples are host-endian uint16
    uint8_t *pixels; // width*height*channels*(bitDepth/8) bytes, rows packed
    int textCount;
    cpng_text *texts;
} cpng_image;

// Decodes a PNG held in memory. Returns 0 on success; otherwise writes a message into `error`.
int cpng_decode(const uint8_t *data, size_t size, int readPixels, cpng_image *out, char *error, size_t errorSize);
void cpng_image_free(cpng_image *image);

typedef struct {
    const char *key;
    const char *text;
    int international; // write iTXt (UTF-8) instead of tEXt
} cpng_text_in;

// Encodes 8-bit RGB (channels 3) or RGBA (channels 4) rows into a malloc'd PNG buffer.
int cpng_encode(uint32_t width, uint32_t height, int channels, const uint8_t *pixels,
                const cpng_text_in *texts, int textCount, int compressionLevel,
                uint8_t **outData, size_t *outSize, char *error, size_t errorSize);
void cpng_buffer_free(uint8_t *data);

#endif
