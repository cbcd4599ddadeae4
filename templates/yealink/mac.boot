#!version:1.0.0.1
## deskprov: boot file for {{ d.vendor_name }} {{ d.model }} {{ d.mac_lower }}: the files below are applied in order.
{%- match d.attrs.get("cfg_id") %}
{%- when Some with (id) %}
include:config "y000000000{{ id }}.cfg"
{%- when None %}
{%- endmatch %}
include:config "{{ d.mac_lower }}.cfg"
overwrite_mode = 1
