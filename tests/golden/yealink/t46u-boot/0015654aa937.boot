#!version:1.0.0.1
## deskprov: boot file for Yealink T46U 0015654aa937: the files below are applied in order.
include:config "y000000000108.cfg"
include:config "0015654aa937.cfg"
overwrite_mode = 1
