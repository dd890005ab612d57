"""az-kz-monitor: polls Azerbaijani and Kazakh news sites, archives what they publish, and follows
the relations between Azerbaijan and Kazakhstan."""

__version__ = "0.1.0"
