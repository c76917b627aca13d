// Test fixtures only: images written by the formats' own encoders, with chosen settings.
#include "jpeg_fixtures.h"
#include "webp_fixtures.h"
#include "gif_fixtures.h"
#include "tiff_fixtures.h"
#include "avif_fixtures.h"
