/* helper.h - beside the test that includes it */
