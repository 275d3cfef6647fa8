//! Quotes, their address records (QuoteLocations) and lines (QuoteItems, child of Quotes).

use super::{AtDateTime, DeleteRoute, WriteRoute, entity};

entity! {
    /// A quote on an opportunity. Create needs opportunityID, name, effectiveDate, expirationDate
    /// and the three QuoteLocation ids (billTo/shipTo/soldTo). `quoteNumber` is server-assigned.
    Quote, QuotePatch {
        collection: "Quotes",
        model: "QuoteModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            opportunity_id: i64 => "opportunityID",
            name: String => "name",
            description: String => "description",
            comment: String => "comment",
            company_id: i64 => "companyID",
            contact_id: i64 => "contactID",
            effective_date: AtDateTime => "effectiveDate",
            expiration_date: AtDateTime => "expirationDate",
            bill_to_location_id: i64 => "billToLocationID",
            ship_to_location_id: i64 => "shipToLocationID",
            sold_to_location_id: i64 => "soldToLocationID",
            external_quote_number: String => "externalQuoteNumber",
            purchase_order_number: String => "purchaseOrderNumber",
            primary_quote: bool => "primaryQuote",
            quote_template_id: i64 => "quoteTemplateID",
            tax_region_id: i64 => "taxRegionID",
            shipping_type: i64 => "shippingType",
            payment_term: i64 => "paymentTerm",
            payment_type: i64 => "paymentType",
            group_by_id: i64 => "groupByID",
            is_active: bool => "isActive",
            quote_number: i64 => "quoteNumber",
            create_date: AtDateTime => "createDate",
            creator_resource_id: i64 => "creatorResourceID",
            impersonator_creator_resource_id: i64 => "impersonatorCreatorResourceID",
            last_activity_date: AtDateTime => "lastActivityDate",
            approval_status: i64 => "approvalStatus",
        }
    }
}

entity! {
    /// A plain address record used by quotes (no country). Nothing is required.
    QuoteLocation, QuoteLocationPatch {
        collection: "QuoteLocations",
        model: "QuoteLocationModel",
        write: WriteRoute::Root { create: true },
        delete: DeleteRoute::Never,
        fields: {
            address1: String => "address1",
            address2: String => "address2",
            city: String => "city",
            state: String => "state",
            postal_code: String => "postalCode",
        }
    }
}

entity! {
    /// A quote line. Queried at `/QuoteItems`, written only under `/Quotes/{quoteID}/Items`.
    /// Exactly one item id field (productID, serviceID, …) and at most one non-zero discount.
    QuoteItem, QuoteItemPatch {
        collection: "QuoteItems",
        model: "QuoteItemModel",
        write: WriteRoute::Child { parent: "Quotes", segment: "Items" },
        delete: DeleteRoute::Child,
        parent: quote_id,
        fields: {
            quote_id: i64 => "quoteID",
            quote_item_type: i64 => "quoteItemType",
            product_id: i64 => "productID",
            service_id: i64 => "serviceID",
            service_bundle_id: i64 => "serviceBundleID",
            labor_id: i64 => "laborID",
            charge_id: i64 => "chargeID",
            expense_id: i64 => "expenseID",
            shipping_id: i64 => "shippingID",
            name: String => "name",
            description: String => "description",
            quantity: f64 => "quantity",
            unit_price: f64 => "unitPrice",
            unit_cost: f64 => "unitCost",
            unit_discount: f64 => "unitDiscount",
            percentage_discount: f64 => "percentageDiscount",
            line_discount: f64 => "lineDiscount",
            is_optional: bool => "isOptional",
            is_taxable: bool => "isTaxable",
            tax_category_id: i64 => "taxCategoryID",
            period_type: i64 => "periodType",
            sort_order_id: i64 => "sortOrderID",
        }
    }
}
