//! Integration tests: the real `figur serve` process, started on port 0 over a temporary data
//! folder, driven with a plain HTTP client. No part of the studio is mocked.

mod bad_input;
mod client;
mod contact_sheet;
mod design;
mod disk_full;
mod extract;
mod face;
mod farm;
mod farm_s3;
mod generate;
mod generative;
mod hardening;
mod hub;
mod lifecycle;
mod metrics;
mod models;
mod openapi;
mod photos;
mod pose;
mod product_matte;
mod provenance;
mod python_example;
mod recovery;
mod run_cli;
mod schemathesis;
mod servers;
mod steering;
mod support;
mod swaps;
mod tls;
mod try_on;
mod try_on_model;
mod upscale;
mod webhooks;
