//! Resources (employees and API users): query and update only.

use super::{DeleteRoute, WriteRoute, entity};

entity! {
    /// A resource. API-only users are resources too but cannot own companies or opportunities.
    Resource, ResourcePatch {
        collection: "Resources",
        model: "ResourceModel",
        write: WriteRoute::Root { create: false },
        delete: DeleteRoute::Never,
        fields: {
            first_name: String => "firstName",
            last_name: String => "lastName",
            email: String => "email",
            user_name: String => "userName",
            title: String => "title",
            is_active: bool => "isActive",
            resource_type: String => "resourceType",
            license_type: i64 => "licenseType",
            user_type: i64 => "userType",
            office_phone: String => "officePhone",
            mobile_phone: String => "mobilePhone",
            location_id: i64 => "locationID",
        }
    }
}
