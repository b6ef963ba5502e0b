#include "pipeline/core/secrets.hpp"

#include <gtest/gtest.h>

namespace cvpipe {
namespace {

TEST(MaskUrl, MasksThePasswordAndKeepsTheUser) {
  EXPECT_EQ(mask_url("rtsp://admin:s3cret@cam.local:554/stream"), "rtsp://admin:***@cam.local:554/stream");
}

TEST(MaskUrl, MasksAPasswordHoldingSlashesAtSignsAndColons) {
  EXPECT_EQ(mask_url("rtsp://admin:p@ss/w:rd@cam/x"), "rtsp://admin:***@cam/x");
  EXPECT_EQ(mask_url("http://u:a@b@c@10.0.0.5:8080"), "http://u:***@10.0.0.5:8080");
  EXPECT_EQ(mask_url("rtsp://u:%2F%40x@[fe80::1]:554/live"), "rtsp://u:***@[fe80::1]:554/live");
}

TEST(MaskUrl, MasksAUserinfoWithoutAColonWhole) {
  EXPECT_EQ(mask_url("rtsp://0123abcdtoken@cam/stream"), "rtsp://***@cam/stream");
}

TEST(MaskUrl, MasksSecretLookingQueryParameters) {
  EXPECT_EQ(mask_url("http://cam/video.mjpg?user=admin&password=abc&res=hd"),
            "http://cam/video.mjpg?user=admin&password=***&res=hd");
  EXPECT_EQ(mask_url("https://h/x?access_token=ey.J9&API_KEY=k&sig=zz#frag"),
            "https://h/x?access_token=***&API_KEY=***&sig=***#frag");
  EXPECT_EQ(mask_url("rtsp://a:b@h/x?token=t"), "rtsp://a:***@h/x?token=***");
}

TEST(MaskUrl, LeavesAUrlWithoutSecretsAndPlainTextAlone) {
  EXPECT_EQ(mask_url("rtsp://cam.local:554/stream?channel=1"), "rtsp://cam.local:554/stream?channel=1");
  EXPECT_EQ(mask_url("samples/clip.mp4"), "samples/clip.mp4");
  EXPECT_EQ(mask_url("http://cam/p?empty=&key="), "http://cam/p?empty=&key=");
}

TEST(MaskSecretsInText, MasksEveryUrlInALine) {
  EXPECT_EQ(mask_secrets_in_text("source=\"url rtsp://a:b@cam/x\" and http://t@h/y?key=v done"),
            "source=\"url rtsp://a:***@cam/x\" and http://***@h/y?key=*** done");
  EXPECT_EQ(mask_secrets_in_text("no urls here: a@b, c://"), "no urls here: a@b, c://");
  EXPECT_EQ(mask_secrets_in_text("rtsp://u:p@h"), "rtsp://u:***@h");
}

}  // namespace
}  // namespace cvpipe
