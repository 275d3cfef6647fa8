//! Catalog and lookup entities: Products, Services, ServiceBundles, BillingCodes, Roles,
//! ShippingTypes, PaymentTerms.

use super::{AtDateTime, DeleteRoute, UserDefinedField, WriteRoute, entity};

entity! {
    /// A product. Create needs name, isActive, isSerialized and productBillingCodeID.
    Product, ProductPatch {
        collection: "Products",
        model: "ProductModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            name: String => "name",
            description: String => "description",
            sku: String => "sku",
            manufacturer_name: String => "manufacturerName",
            manufacturer_product_name: String => "manufacturerProductName",
            vendor_product_number: String => "vendorProductNumber",
            default_vendor_id: i64 => "defaultVendorID",
            external_product_id: String => "externalProductID",
            internal_product_id: String => "internalProductID",
            is_active: bool => "isActive",
            is_serialized: bool => "isSerialized",
            product_billing_code_id: i64 => "productBillingCodeID",
            charge_billing_code_id: i64 => "chargeBillingCodeID",
            product_category: i64 => "productCategory",
            period_type: i64 => "periodType",
            unit_cost: f64 => "unitCost",
            unit_price: f64 => "unitPrice",
            msrp: f64 => "msrp",
            link: String => "link",
            does_not_require_procurement: bool => "doesNotRequireProcurement",
            created_time: AtDateTime => "createdTime",
            user_defined_fields: Vec<UserDefinedField> => "userDefinedFields",
        }
    }
}

entity! {
    /// A recurring service. Create needs name, billingCodeID, periodType and unitPrice.
    Service, ServicePatch {
        collection: "Services",
        model: "ServiceModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            name: String => "name",
            description: String => "description",
            invoice_description: String => "invoiceDescription",
            billing_code_id: i64 => "billingCodeID",
            period_type: i64 => "periodType",
            unit_price: f64 => "unitPrice",
            unit_cost: f64 => "unitCost",
            is_active: bool => "isActive",
            sku: String => "sku",
            vendor_company_id: i64 => "vendorCompanyID",
            external_id: String => "externalID",
            create_date: AtDateTime => "createDate",
            user_defined_fields: Vec<UserDefinedField> => "userDefinedFields",
        }
    }
}

entity! {
    /// A bundle of services. Create needs name, billingCodeID and periodType (fixed after create).
    ServiceBundle, ServiceBundlePatch {
        collection: "ServiceBundles",
        model: "ServiceBundleModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Root,
        fields: {
            name: String => "name",
            description: String => "description",
            invoice_description: String => "invoiceDescription",
            billing_code_id: i64 => "billingCodeID",
            period_type: i64 => "periodType",
            unit_price: f64 => "unitPrice",
            unit_cost: f64 => "unitCost",
            unit_discount: f64 => "unitDiscount",
            percentage_discount: f64 => "percentageDiscount",
            is_active: bool => "isActive",
            sku: String => "sku",
            create_date: AtDateTime => "createDate",
            user_defined_fields: Vec<UserDefinedField> => "userDefinedFields",
        }
    }
}

entity! {
    /// A billing (allocation) code: work types, material, expense categories… Read-only.
    BillingCode, BillingCodePatch {
        collection: "BillingCodes",
        model: "BillingCodeModel",
        write: WriteRoute::ReadOnly,
        delete: DeleteRoute::Never,
        fields: {
            name: String => "name",
            description: String => "description",
            billing_code_type: i64 => "billingCodeType",
            use_type: i64 => "useType",
            is_active: bool => "isActive",
            unit_cost: f64 => "unitCost",
            unit_price: f64 => "unitPrice",
            markup_rate: f64 => "markupRate",
            external_number: String => "externalNumber",
            tax_category_id: i64 => "taxCategoryID",
        }
    }
}

entity! {
    /// A role: the labor rate used by labor quote items (`laborID`).
    Role, RolePatch {
        collection: "Roles",
        model: "RoleModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            name: String => "name",
            description: String => "description",
            hourly_rate: f64 => "hourlyRate",
            hourly_factor: f64 => "hourlyFactor",
            is_active: bool => "isActive",
            is_system_role: bool => "isSystemRole",
            role_type: i64 => "roleType",
        }
    }
}

entity! {
    /// A shipping carrier, referenced by Quote `shippingType` and QuoteItem `shippingID`. Read-only.
    ShippingType, ShippingTypePatch {
        collection: "ShippingTypes",
        model: "ShippingTypeModel",
        write: WriteRoute::ReadOnly,
        delete: DeleteRoute::Never,
        fields: {
            name: String => "name",
            description: String => "description",
            is_active: bool => "isActive",
            billing_code_id: i64 => "billingCodeID",
        }
    }
}

entity! {
    /// Payment terms, referenced by Quote `paymentTerm`.
    PaymentTerm, PaymentTermPatch {
        collection: "PaymentTerms",
        model: "PaymentTermModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            name: String => "name",
            description: String => "description",
            is_active: bool => "isActive",
            payment_due_in_days: i64 => "paymentDueInDays",
        }
    }
}
