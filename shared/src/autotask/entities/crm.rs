//! CRM entities: Companies, Contacts (child of Companies for writes), Opportunities.

use super::{AtDateTime, DeleteRoute, UserDefinedField, WriteRoute, entity};

entity! {
    /// An Autotask company (organization). Create needs companyName, companyType, ownerResourceID
    /// (an active licensed resource, never the API user) and phone.
    Company, CompanyPatch {
        collection: "Companies",
        model: "CompanyModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            company_name: String => "companyName",
            company_number: String => "companyNumber",
            company_type: i64 => "companyType",
            owner_resource_id: i64 => "ownerResourceID",
            phone: String => "phone",
            fax: String => "fax",
            alternate_phone1: String => "alternatePhone1",
            address1: String => "address1",
            address2: String => "address2",
            city: String => "city",
            state: String => "state",
            postal_code: String => "postalCode",
            country_id: i64 => "countryID",
            web_address: String => "webAddress",
            is_active: bool => "isActive",
            is_tax_exempt: bool => "isTaxExempt",
            tax_id: String => "taxID",
            tax_region_id: i64 => "taxRegionID",
            parent_company_id: i64 => "parentCompanyID",
            classification: i64 => "classification",
            territory_id: i64 => "territoryID",
            market_segment_id: i64 => "marketSegmentID",
            create_date: AtDateTime => "createDate",
            last_activity_date: AtDateTime => "lastActivityDate",
            last_tracked_modified_date_time: AtDateTime => "lastTrackedModifiedDateTime",
            created_by_resource_id: i64 => "createdByResourceID",
            impersonator_creator_resource_id: i64 => "impersonatorCreatorResourceID",
            user_defined_fields: Vec<UserDefinedField> => "userDefinedFields",
        }
    }
}

entity! {
    /// A contact. Queried at `/Contacts`, written only under `/Companies/{companyID}/Contacts`.
    /// `isActive` is an integer (1/0), not a boolean.
    Contact, ContactPatch {
        collection: "Contacts",
        model: "ContactModel",
        write: WriteRoute::Child { parent: "Companies", segment: "Contacts" },
        delete: DeleteRoute::Child,
        parent: company_id,
        fields: {
            company_id: i64 => "companyID",
            company_location_id: i64 => "companyLocationID",
            first_name: String => "firstName",
            last_name: String => "lastName",
            middle_initial: String => "middleInitial",
            title: String => "title",
            email_address: String => "emailAddress",
            email_address2: String => "emailAddress2",
            phone: String => "phone",
            extension: String => "extension",
            mobile_phone: String => "mobilePhone",
            fax_number: String => "faxNumber",
            address_line: String => "addressLine",
            address_line1: String => "addressLine1",
            city: String => "city",
            state: String => "state",
            zip_code: String => "zipCode",
            country_id: i64 => "countryID",
            is_active: i64 => "isActive",
            primary_contact: bool => "primaryContact",
            external_id: String => "externalID",
            create_date: AtDateTime => "createDate",
            last_modified_date: AtDateTime => "lastModifiedDate",
            impersonator_creator_resource_id: i64 => "impersonatorCreatorResourceID",
            user_defined_fields: Vec<UserDefinedField> => "userDefinedFields",
        }
    }
}

entity! {
    /// A sales opportunity. Create needs title, companyID, ownerResourceID, status, stage,
    /// probability, amount, cost, projectedCloseDate, startDate and useQuoteTotals.
    Opportunity, OpportunityPatch {
        collection: "Opportunities",
        model: "OpportunityModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            title: String => "title",
            company_id: i64 => "companyID",
            contact_id: i64 => "contactID",
            owner_resource_id: i64 => "ownerResourceID",
            status: i64 => "status",
            stage: i64 => "stage",
            probability: i64 => "probability",
            amount: f64 => "amount",
            cost: f64 => "cost",
            projected_close_date: AtDateTime => "projectedCloseDate",
            start_date: AtDateTime => "startDate",
            closed_date: AtDateTime => "closedDate",
            last_activity: AtDateTime => "lastActivity",
            use_quote_totals: bool => "useQuoteTotals",
            description: String => "description",
            opportunity_category_id: i64 => "opportunityCategoryID",
            rating: i64 => "rating",
            lead_source: i64 => "leadSource",
            one_time_revenue: f64 => "onetimeRevenue",
            one_time_cost: f64 => "onetimeCost",
            monthly_revenue: f64 => "monthlyRevenue",
            monthly_cost: f64 => "monthlyCost",
            yearly_revenue: f64 => "yearlyRevenue",
            yearly_cost: f64 => "yearlyCost",
            create_date: AtDateTime => "createDate",
            creator_resource_id: i64 => "creatorResourceID",
            impersonator_creator_resource_id: i64 => "impersonatorCreatorResourceID",
            sales_order_id: i64 => "salesOrderID",
            user_defined_fields: Vec<UserDefinedField> => "userDefinedFields",
        }
    }
}
