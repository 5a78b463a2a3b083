//! Sealing and opening the identity table: the only code that turns clear personal data into
//! what the store keeps, and back.

use chrono::{DateTime, Utc};
use healthcode_core::{IdNumber, PersonName, Phone, RegionCode, SubjectId};
use healthcode_store::{Guardian, PersonRecord};
use healthcode_vault::{Vault, VaultError};

/// Blind-index domains. Changing one orphans every stored index.
pub const ID_NUMBER_DOMAIN: &str = "id_number";
pub const PHONE_DOMAIN: &str = "phone";
pub const OTP_DOMAIN: &str = "otp";

fn context(column: &str, subject: &SubjectId) -> String {
    format!("persons.{column}:{subject}")
}

pub fn phone_index(vault: &Vault, phone: &Phone) -> Vec<u8> {
    vault.blind_index(PHONE_DOMAIN, phone.expose())
}

pub fn new_subject_id() -> SubjectId {
    SubjectId::from_random(healthcode_vault::random())
}

pub struct NewIdentity<'a> {
    pub name: &'a PersonName,
    pub id_number: &'a IdNumber,
    pub phone: Option<&'a Phone>,
    pub household_region: RegionCode,
    pub guardian: Option<Guardian>,
}

/// A new identity-table row with a fresh pseudonymous subject id.
pub fn seal_person(vault: &Vault, new: NewIdentity<'_>, now: DateTime<Utc>) -> PersonRecord {
    let subject_id = new_subject_id();
    PersonRecord {
        id_index: vault.blind_index(ID_NUMBER_DOMAIN, new.id_number.expose()),
        id_number_sealed: vault.seal(&context("id_number", &subject_id), new.id_number.expose().as_bytes()),
        name_sealed: vault.seal(&context("name", &subject_id), new.name.expose().as_bytes()),
        masked_name: new.name.masked(),
        phone_index: new.phone.map(|p| phone_index(vault, p)),
        phone_sealed: new.phone.map(|p| vault.seal(&context("phone", &subject_id), p.expose().as_bytes())),
        household_region: new.household_region,
        current_region: None,
        guardian: new.guardian,
        created_at: now,
        subject_id,
    }
}

/// The clear values of a row, for its owner or an officer in scope.
pub struct OpenedPerson {
    pub name: String,
    pub id_number: String,
    pub phone: Option<String>,
}

impl OpenedPerson {
    /// `4201************1X`, as in [`healthcode_core::IdNumber::masked`].
    pub fn id_number_masked(&self) -> String {
        healthcode_core::id_number::mask_middle(&self.id_number, 4, 2)
    }

    /// `139****5678`, as in [`healthcode_core::Phone::masked`].
    pub fn phone_masked(&self) -> Option<String> {
        self.phone.as_deref().map(|p| healthcode_core::id_number::mask_middle(p, 3, 4))
    }
}

pub fn open_person(vault: &Vault, p: &PersonRecord) -> Result<OpenedPerson, VaultError> {
    Ok(OpenedPerson {
        name: vault.open_string(&context("name", &p.subject_id), &p.name_sealed)?,
        id_number: vault.open_string(&context("id_number", &p.subject_id), &p.id_number_sealed)?,
        phone: p.phone_sealed.as_deref().map(|s| vault.open_string(&context("phone", &p.subject_id), s)).transpose()?,
    })
}
