/* a.h - the lowest layer includes nothing of coffer. */
