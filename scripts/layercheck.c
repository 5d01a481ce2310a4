/* layercheck.c - the program src/meson.build links each layer's library into,
 * whole, with only the layers below it: a call from the layer to a higher
 * layer leaves an undefined symbol and fails the link. It is never run. */
int
main(void)
{
	return 0;
}
