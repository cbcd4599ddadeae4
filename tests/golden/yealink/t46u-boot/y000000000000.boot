#!version:1.0.0.1
## deskprov: common boot file for Yealink T46U. Phones deskprov knows get <mac>.boot instead.
include:config "y000000000108.cfg"
overwrite_mode = 1
