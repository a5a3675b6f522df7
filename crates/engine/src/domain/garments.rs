//! Garment categories: where on the body each sits (region) and in which order layers stack.
//! Their public ids are fixed so scripts can hard-code them across installs.

use serde::Serialize;
use utoipa::ToSchema;

/// Where a category sits on the body. `full` covers upper and lower at once; `outer` is worn
/// over the upper body; the rest are accessory slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Region {
    Upper,
    Lower,
    Full,
    Outer,
    Feet,
    Head,
    Face,
    Neck,
    Waist,
    Carry,
}

impl Region {
    /// How a garment of category `key` worn here is fitted to a body.
    pub fn fit_family(self, key: &str) -> figur_pixels::vision::garment::Family {
        use figur_pixels::vision::garment::Family;
        match self {
            Region::Upper | Region::Outer => Family::Top,
            Region::Full => Family::Full,
            Region::Lower if key == "skirt" => Family::Skirt,
            Region::Lower => Family::Legs,
            _ => Family::Placed,
        }
    }

    /// Accessory slots and feet: they go with anything.
    pub fn is_accessory(self) -> bool {
        matches!(self, Region::Head | Region::Face | Region::Neck | Region::Waist | Region::Carry)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GarmentCategory {
    pub public_id: &'static str,
    pub key: &'static str,
    pub display_name: &'static str,
    pub region: Region,
    /// Stacking order when worn together: higher layers are drawn over lower ones.
    pub layer: u8,
}

const fn cat(
    public_id: &'static str,
    key: &'static str,
    display_name: &'static str,
    region: Region,
    layer: u8,
) -> GarmentCategory {
    GarmentCategory { public_id, key, display_name, region, layer }
}

pub static CATEGORIES: &[GarmentCategory] = &[
    cat("01JGC0GARMENTCATEG0RY00001", "top", "Top", Region::Upper, 2),
    cat("01JGC0GARMENTCATEG0RY00002", "t-shirt", "T-shirt", Region::Upper, 1),
    cat("01JGC0GARMENTCATEG0RY00003", "shirt", "Shirt", Region::Upper, 2),
    cat("01JGC0GARMENTCATEG0RY00004", "blouse", "Blouse", Region::Upper, 2),
    cat("01JGC0GARMENTCATEG0RY00005", "sweater", "Sweater", Region::Upper, 3),
    cat("01JGC0GARMENTCATEG0RY00006", "hoodie", "Hoodie", Region::Upper, 3),
    cat("01JGC0GARMENTCATEG0RY00007", "vest", "Vest", Region::Outer, 4),
    cat("01JGC0GARMENTCATEG0RY00008", "jacket", "Jacket", Region::Outer, 5),
    cat("01JGC0GARMENTCATEG0RY00009", "coat", "Coat", Region::Outer, 6),
    cat("01JGC0GARMENTCATEG0RY0000A", "dress", "Dress", Region::Full, 2),
    cat("01JGC0GARMENTCATEG0RY0000B", "jumpsuit", "Jumpsuit", Region::Full, 2),
    cat("01JGC0GARMENTCATEG0RY0000C", "skirt", "Skirt", Region::Lower, 2),
    cat("01JGC0GARMENTCATEG0RY0000D", "pants", "Pants", Region::Lower, 2),
    cat("01JGC0GARMENTCATEG0RY0000E", "jeans", "Jeans", Region::Lower, 2),
    cat("01JGC0GARMENTCATEG0RY0000F", "shorts", "Shorts", Region::Lower, 2),
    cat("01JGC0GARMENTCATEG0RY0000G", "shoes", "Shoes", Region::Feet, 1),
    cat("01JGC0GARMENTCATEG0RY0000H", "bag", "Bag", Region::Carry, 8),
    cat("01JGC0GARMENTCATEG0RY0000J", "hat", "Hat", Region::Head, 8),
    cat("01JGC0GARMENTCATEG0RY0000K", "scarf", "Scarf", Region::Neck, 7),
    cat("01JGC0GARMENTCATEG0RY0000M", "belt", "Belt", Region::Waist, 7),
    cat("01JGC0GARMENTCATEG0RY0000N", "eyewear", "Eyewear", Region::Face, 8),
];

pub fn by_key(key: &str) -> Option<&'static GarmentCategory> {
    CATEGORIES.iter().find(|c| c.key == key)
}

pub fn by_id(id: &str) -> Option<&'static GarmentCategory> {
    CATEGORIES.iter().find(|c| c.public_id == id)
}

pub fn keys() -> Vec<&'static str> {
    CATEGORIES.iter().map(|c| c.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_ulids_and_keys_cover_the_contract() {
        let mut ids: Vec<_> = CATEGORIES.iter().map(|c| c.public_id).collect();
        assert!(ids.iter().all(|id| crate::ids::is_ulid(id)), "every id is a ULID");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATEGORIES.len());
        for key in [
            "top", "shirt", "t-shirt", "blouse", "sweater", "hoodie", "jacket", "coat", "vest", "dress", "jumpsuit",
            "skirt", "pants", "jeans", "shorts", "shoes", "bag", "hat", "scarf", "belt", "eyewear",
        ] {
            assert!(by_key(key).is_some(), "{key}");
        }
    }
}
