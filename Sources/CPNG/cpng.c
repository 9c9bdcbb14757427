#include "cpng.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *error;
    size_t errorSize;
} error_sink;

static void on_error(png_structp png, png_const_charp message) {
    error_sink *sink = (error_sink *)png_get_error_ptr(png);
    if (sink && sink->error && sink->errorSize) snprintf(sink->error, sink->errorSize, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
} read_cursor;

static void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
    read_cursor *cursor = (read_cursor *)png_get_io_ptr(png);
    if (length > cursor->size - cursor->position) png_error(png, "file is truncated");
    memcpy(out, cursor->data + cursor->position, length);
    cursor->position += length;
}

void cpng_image_free(cpng_image *image) {
    if (!image) return;
    free(image->pixels);
    for (int i = 0; i < image->textCount; i++) {
        free(image->texts[i].key);
        free(image->texts[i].text);
    }
    free(image->texts);
    memset(image, 0, sizeof(*image));
}

static int collect_text(png_structp png, png_infop info, cpng_image *out) {
    png_textp texts = NULL;
    int count = 0;
    png_get_text(png, info, &texts, &count);
    if (count <= 0) return 0;
    cpng_text *grown = realloc(out->texts, sizeof(cpng_text) * (size_t)(out->textCount + count));
    if (!grown) return -1;
    out->texts = grown;
    for (int i = 0; i < count; i++) {
        size_t length = texts[i].compression >= PNG_ITXT_COMPRESSION_NONE ? texts[i].itxt_length : texts[i].text_length;
        cpng_text *t = &out->texts[out->textCount];
        memset(t, 0, sizeof(*t));
        t->key = strdup(texts[i].key ? texts[i].key : "");
        t->text = malloc(length + 1);
        if (!t->key || !t->text) { free(t->key); free(t->text); return -1; }
        if (length) memcpy(t->text, texts[i].text, length);
        t->text[length] = 0;
        t->textLength = length;
        t->isInternational = texts[i].compression >= PNG_ITXT_COMPRESSION_NONE;
        out->textCount++;
    }
    return 0;
}

int cpng_decode(const uint8_t *data, size_t size, int readPixels, cpng_image *out, char *error, size_t errorSize) {
    memset(out, 0, sizeof(*out));
    if (error && errorSize) error[0] = 0;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        snprintf(error, errorSize, "not a PNG file (bad signature)");
        return -1;
    }
    error_sink sink = {error, errorSize};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    if (!png) { snprintf(error, errorSize, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    png_infop endInfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    // Locals modified after setjmp must be volatile to be valid after a longjmp.
    volatile int status = -1;
    read_cursor cursor = {data, size, 0};
    if (!info || !endInfo) { snprintf(error, errorSize, "out of memory"); goto done; }
    if (setjmp(png_jmpbuf(png))) {
        cpng_image_free(out);
        goto done;
    }
    png_set_read_fn(png, &cursor, read_from_memory);
    // Refuse absurd dimensions before allocating (a corrupt header must not exhaust memory).
    png_set_user_limits(png, 65536, 65536);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int colorType = png_get_color_type(png, info);
    int bitDepth = png_get_bit_depth(png, info);
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colorType == PNG_COLOR_TYPE_GRAY && bitDepth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bitDepth == 16) png_set_swap(png); // host (little-endian) order
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    out->width = width;
    out->height = height;
    out->channels = png_get_channels(png, info);
    out->bitDepth = png_get_bit_depth(png, info);
    if (collect_text(png, info, out) != 0) png_error(png, "out of memory reading text chunks");
    if (readPixels) {
        size_t rowBytes = png_get_rowbytes(png, info);
        if (rowBytes != (size_t)width * out->channels * (out->bitDepth / 8)) png_error(png, "unexpected row layout");
        out->pixels = malloc(rowBytes * height);
        rows = malloc(sizeof(png_bytep) * height);
        if (!out->pixels || !rows) png_error(png, "out of memory for pixels");
        for (png_uint_32 y = 0; y < height; y++) rows[y] = out->pixels + rowBytes * y;
        png_read_image(png, rows);
        png_read_end(png, endInfo);
        if (collect_text(png, endInfo, out) != 0) png_error(png, "out of memory reading text chunks");
    }
    status = 0;
done:
    free(rows);
    png_destroy_read_struct(&png, info ? &info : NULL, endInfo ? &endInfo : NULL);
    return status;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} write_buffer;

static void write_to_memory(png_structp png, png_bytep bytes, png_size_t length) {
    write_buffer *buffer = (write_buffer *)png_get_io_ptr(png);
    if (buffer->size + length > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 65536;
        while (capacity < buffer->size + length) capacity *= 2;
        uint8_t *grown = realloc(buffer->data, capacity);
        if (!grown) png_error(png, "out of memory encoding PNG");
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, length);
    buffer->size += length;
}

static void flush_memory(png_structp png) { (void)png; }

void cpng_buffer_free(uint8_t *data) { free(data); }

int cpng_encode(uint32_t width, uint32_t height, int channels, const uint8_t *pixels,
                const cpng_text_in *texts, int textCount, int compressionLevel,
                uint8_t **outData, size_t *outSize, char *error, size_t errorSize) {
    *outData = NULL;
    *outSize = 0;
    if (channels != 3 && channels != 4) { snprintf(error, errorSize, "only RGB8 and RGBA8 can be written"); return -1; }
    if (width == 0 || height == 0) { snprintf(error, errorSize, "image is empty"); return -1; }
    error_sink sink = {error, errorSize};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    if (!png) { snprintf(error, errorSize, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    png_text *volatile pngTexts = NULL;
    volatile int status = -1;
    write_buffer buffer = {NULL, 0, 0};
    if (!info) { snprintf(error, errorSize, "out of memory"); goto done; }
    if (setjmp(png_jmpbuf(png))) {
        free(buffer.data);
        buffer.data = NULL;
        goto done;
    }
    png_set_write_fn(png, &buffer, write_to_memory, flush_memory);
    png_set_compression_level(png, compressionLevel);
    png_set_IHDR(png, info, width, height, 8, channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (textCount > 0) {
        pngTexts = calloc((size_t)textCount, sizeof(png_text));
        if (!pngTexts) png_error(png, "out of memory");
        for (int i = 0; i < textCount; i++) {
            pngTexts[i].compression = texts[i].international ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
            pngTexts[i].key = (png_charp)texts[i].key;
            pngTexts[i].text = (png_charp)texts[i].text;
            if (texts[i].international) {
                pngTexts[i].itxt_length = strlen(texts[i].text);
                pngTexts[i].lang = (png_charp)"";
                pngTexts[i].lang_key = (png_charp)"";
            } else {
                pngTexts[i].text_length = strlen(texts[i].text);
            }
        }
        png_set_text(png, info, pngTexts, textCount);
    }
    png_write_info(png, info);
    size_t rowBytes = (size_t)width * channels;
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + rowBytes * y));
    png_write_end(png, info);
    *outData = buffer.data;
    *outSize = buffer.size;
    status = 0;
done:
    free(pngTexts);
    png_destroy_write_struct(&png, info ? &info : NULL);
    return status;
}
