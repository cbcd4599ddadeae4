#!version:1.0.0.1
## deskprov: common boot file{% if !c.model.is_empty() %} for {{ c.vendor_name }} {{ c.model }}{% endif %}. Phones deskprov knows get <mac>.boot instead.
{%- match c.attrs.get("cfg_id") %}
{%- when Some with (id) %}
include:config "y000000000{{ id }}.cfg"
{%- when None %}
{%- endmatch %}
overwrite_mode = 1
