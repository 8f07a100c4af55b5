package messages

import (
	"encoding/xml"
)

// Namespace is the XML namespace of every Radial checkout message.
const Namespace = "http://api.gsicommerce.com/schema/checkout/1.0"

// Settlement types (PaymentSettlementRequest/SettlementType).
const (
	SettlementDebit  = "Debit"
	SettlementCredit = "Credit"
)

// Settlement statuses (PaymentSettlementStatus/SettlementStatus).
const (
	StatusSettled  = "S"
	StatusRejected = "R"
)

// ConfirmFunds outcomes (ConfirmFundsReply/FundsAvailable).
const (
	FundsSuccess = "Success"
	FundsFail    = "Fail"
	FundsTimeout = "Timeout"
)

// Amount is a decimal amount with its ISO 4217 currency code. Value keeps the
// text exactly as it was received so that re-encoding is lossless; use
// Money to get an exact decimal with the currency's exponent.
type Amount struct {
	CurrencyCode string `xml:"currencyCode,attr" json:"currencyCode"`
	Value        string `xml:",chardata" json:"value"`
}

// AccountID is PaymentContext/PaymentAccountUniqueId: a (usually tokenized)
// card number. Its String and GoString methods mask it so that it cannot
// leak into logs through fmt; only XML encoding writes the real value.
type AccountID struct {
	IsToken string `xml:"isToken,attr" json:"isToken"`
	Value   string `xml:",chardata" json:"value"`
}

// PaymentContext identifies the order and the payment account.
type PaymentContext struct {
	OrderID                string    `xml:"OrderId" json:"orderId"`
	PaymentAccountUniqueID AccountID `xml:"PaymentAccountUniqueId" json:"paymentAccountUniqueId"`
}

// PaymentContextBase identifies the order when no account number exists
// (for example PayPal).
type PaymentContextBase struct {
	OrderID string `xml:"OrderId" json:"orderId"`
}

// PersonName is BillingAddress/PersonName.
type PersonName struct {
	Honorific  string `xml:"Honorific,omitempty" json:"honorific,omitempty"`
	LastName   string `xml:"LastName" json:"lastName"`
	MiddleName string `xml:"MiddleName,omitempty" json:"middleName,omitempty"`
	FirstName  string `xml:"FirstName,omitempty" json:"firstName,omitempty"`
}

// Address is BillingAddress/Address.
type Address struct {
	Line1        string `xml:"Line1" json:"line1"`
	Line2        string `xml:"Line2,omitempty" json:"line2,omitempty"`
	Line3        string `xml:"Line3,omitempty" json:"line3,omitempty"`
	Line4        string `xml:"Line4,omitempty" json:"line4,omitempty"`
	City         string `xml:"City" json:"city"`
	MainDivision string `xml:"MainDivision,omitempty" json:"mainDivision,omitempty"`
	CountryCode  string `xml:"CountryCode" json:"countryCode"`
	PostalCode   string `xml:"PostalCode,omitempty" json:"postalCode,omitempty"`
}

// BillingAddress is PaymentSettlementRequest/BillingAddress.
type BillingAddress struct {
	PersonName *PersonName `xml:"PersonName" json:"personName,omitempty"`
	Address    *Address    `xml:"Address" json:"address,omitempty"`
}

// CustomAttribute is a Key/Value pair.
type CustomAttribute struct {
	Key   string `xml:"Key" json:"key"`
	Value string `xml:"Value" json:"value"`
}

// CustomAttributes is a sequence of CustomAttribute.
type CustomAttributes struct {
	CustomAttribute []CustomAttribute `xml:"CustomAttribute" json:"customAttribute"`
}

// VAT is one VATRateInfo/VAT entry.
type VAT struct {
	Rate              string  `xml:"rate,attr" json:"rate"`
	VATRegistrationID string  `xml:"VATRegistrationId,omitempty" json:"vatRegistrationId,omitempty"`
	Amount            *Amount `xml:"Amount" json:"amount,omitempty"`
}

// VATRateInfo is a sequence of VAT.
type VATRateInfo struct {
	VAT []VAT `xml:"VAT" json:"vat"`
}

// OriginalVATInvoice references the invoice a credit applies to.
type OriginalVATInvoice struct {
	OriginalVATInvoiceNumber string `xml:"OriginalVATInvoiceNumber" json:"originalVatInvoiceNumber"`
	OriginalVATInvoiceDate   string `xml:"OriginalVATInvoiceDate" json:"originalVatInvoiceDate"`
}

// OriginalVATInvoiceDetails is a sequence of OriginalVATInvoice.
type OriginalVATInvoiceDetails struct {
	OriginalVATInvoice []OriginalVATInvoice `xml:"OriginalVATInvoice" json:"originalVatInvoice"`
}

// VATData is InvoiceData/VATData (open invoice tenders only).
type VATData struct {
	VATInvoiceNumber          string                     `xml:"VATInvoiceNumber" json:"vatInvoiceNumber"`
	VATInvoiceDate            string                     `xml:"VATInvoiceDate" json:"vatInvoiceDate"`
	OriginalVATInvoiceDetails *OriginalVATInvoiceDetails `xml:"OriginalVATInvoiceDetails" json:"originalVatInvoiceDetails,omitempty"`
	VATRateInfo               *VATRateInfo               `xml:"VATRateInfo" json:"vatRateInfo,omitempty"`
	BalanceClearedAmount      *Amount                    `xml:"BalanceClearedAmount" json:"balanceClearedAmount,omitempty"`
	InvoicePresentment        string                     `xml:"InvoicePresentment" json:"invoicePresentment"`
}

// LineItem is InvoiceData/LineItems/LineItem.
type LineItem struct {
	LidCode               string            `xml:"lidCode,attr,omitempty" json:"lidCode,omitempty"`
	LineID                string            `xml:"lineId,attr,omitempty" json:"lineId,omitempty"`
	ItemID                string            `xml:"ItemId" json:"itemId"`
	ClientItemID          string            `xml:"ClientItemId,omitempty" json:"clientItemId,omitempty"`
	Quantity              string            `xml:"Quantity" json:"quantity"`
	ItemShortDescription  string            `xml:"ItemShortDescription" json:"itemShortDescription"`
	VATInclusiveUnitPrice *Amount           `xml:"VATInclusiveUnitPrice" json:"vatInclusiveUnitPrice,omitempty"`
	VATRateInfo           *VATRateInfo      `xml:"VATRateInfo" json:"vatRateInfo,omitempty"`
	CustomAttributes      *CustomAttributes `xml:"CustomAttributes" json:"customAttributes,omitempty"`
}

// LineItems is a sequence of LineItem.
type LineItems struct {
	LineItem []LineItem `xml:"LineItem" json:"lineItem"`
}

// InvoiceData is PaymentSettlementRequest/InvoiceData.
type InvoiceData struct {
	Type             string            `xml:"type,attr,omitempty" json:"type,omitempty"`
	VATData          *VATData          `xml:"VATData" json:"vatData,omitempty"`
	LineItems        *LineItems        `xml:"LineItems" json:"lineItems,omitempty"`
	CustomAttributes *CustomAttributes `xml:"CustomAttributes" json:"customAttributes,omitempty"`
}

// ShipmentCount is ShipmentData/ShipmentCount.
type ShipmentCount struct {
	CurrentCount string `xml:"CurrentCount" json:"currentCount"`
	TotalCount   string `xml:"TotalCount" json:"totalCount"`
}

// Carrier is ShipmentData/Carrier.
type Carrier struct {
	Name    string `xml:"Name" json:"name"`
	Service string `xml:"Service,omitempty" json:"service,omitempty"`
}

// ShipmentData describes one physical shipment of the settlement.
type ShipmentData struct {
	ShipmentCount  *ShipmentCount `xml:"ShipmentCount" json:"shipmentCount,omitempty"`
	ShippedDate    string         `xml:"ShippedDate" json:"shippedDate"`
	Carrier        *Carrier       `xml:"Carrier" json:"carrier,omitempty"`
	TrackingID     string         `xml:"TrackingId,omitempty" json:"trackingId,omitempty"`
	DeliveryOption string         `xml:"DeliveryOption,omitempty" json:"deliveryOption,omitempty"`
}

// PaymentSettlementRequest asks for a debit (capture) or credit (refund).
// RequestID is the idempotency key of the whole pipeline.
type PaymentSettlementRequest struct {
	XMLName                   xml.Name            `xml:"http://api.gsicommerce.com/schema/checkout/1.0 PaymentSettlementRequest" json:"-"`
	RequestID                 string              `xml:"requestId,attr" json:"requestId"`
	PaymentContext            *PaymentContext     `xml:"PaymentContext" json:"paymentContext,omitempty"`
	PaymentContextBase        *PaymentContextBase `xml:"PaymentContextBase" json:"paymentContextBase,omitempty"`
	InvoiceID                 string              `xml:"InvoiceId,omitempty" json:"invoiceId,omitempty"`
	Amount                    Amount              `xml:"Amount" json:"amount"`
	TaxAmount                 *Amount             `xml:"TaxAmount" json:"taxAmount,omitempty"`
	SettlementType            string              `xml:"SettlementType" json:"settlementType"`
	AuthorizationResponseCode string              `xml:"AuthorizationResponseCode,omitempty" json:"authorizationResponseCode,omitempty"`
	AuthorizationDate         string              `xml:"AuthorizationDate,omitempty" json:"authorizationDate,omitempty"`
	ExpirationDate            string              `xml:"ExpirationDate,omitempty" json:"expirationDate,omitempty"`
	ClientContext             string              `xml:"ClientContext,omitempty" json:"clientContext,omitempty"`
	FinalDebit                string              `xml:"FinalDebit,omitempty" json:"finalDebit,omitempty"`
	OriginatingSystemOrderID  string              `xml:"OriginatingSystemOrderId,omitempty" json:"originatingSystemOrderId,omitempty"`
	OmsOrderID                string              `xml:"OmsOrderId,omitempty" json:"omsOrderId,omitempty"`
	BillingAddress            *BillingAddress     `xml:"BillingAddress" json:"billingAddress,omitempty"`
	InvoiceData               *InvoiceData        `xml:"InvoiceData" json:"invoiceData,omitempty"`
	ShipmentData              []ShipmentData      `xml:"ShipmentData" json:"shipmentData,omitempty"`
	RefundReason              string              `xml:"RefundReason,omitempty" json:"refundReason,omitempty"`
	ReferenceTransactionID    string              `xml:"ReferenceTransactionId,omitempty" json:"referenceTransactionId,omitempty"`
	SourceOrderSystem         string              `xml:"SourceOrderSystem,omitempty" json:"sourceOrderSystem,omitempty"`
}

// PaymentSettlementRequestList is the batch form used by webhook clients.
type PaymentSettlementRequestList struct {
	XMLName  xml.Name                   `xml:"http://api.gsicommerce.com/schema/checkout/1.0 PaymentSettlementRequestList" json:"-"`
	Requests []PaymentSettlementRequest `xml:"PaymentSettlementRequest" json:"requests"`
}

// PaymentSettlementStatus is the final (or a later) verdict on a settlement.
type PaymentSettlementStatus struct {
	XMLName            xml.Name            `xml:"http://api.gsicommerce.com/schema/checkout/1.0 PaymentSettlementStatus" json:"-"`
	PaymentContext     *PaymentContext     `xml:"PaymentContext" json:"paymentContext,omitempty"`
	PaymentContextBase *PaymentContextBase `xml:"PaymentContextBase" json:"paymentContextBase,omitempty"`
	TenderType         string              `xml:"TenderType" json:"tenderType"`
	Amount             Amount              `xml:"Amount" json:"amount"`
	SettlementType     string              `xml:"SettlementType" json:"settlementType"`
	SettlementStatus   string              `xml:"SettlementStatus" json:"settlementStatus"`
	DeclineReason      string              `xml:"DeclineReason,omitempty" json:"declineReason,omitempty"`
	ClientContext      string              `xml:"ClientContext,omitempty" json:"clientContext,omitempty"`
	StoreID            string              `xml:"StoreId" json:"storeId"`
}

// PaymentSettlementStatusList batches statuses for webhook delivery.
type PaymentSettlementStatusList struct {
	XMLName  xml.Name                  `xml:"http://api.gsicommerce.com/schema/checkout/1.0 PaymentSettlementStatusList" json:"-"`
	Statuses []PaymentSettlementStatus `xml:"PaymentSettlementStatus" json:"statuses"`
}

// AckReply is Radial's answer to an accepted settlement request.
type AckReply struct {
	XMLName  xml.Name  `xml:"http://api.gsicommerce.com/schema/checkout/1.0 AckReply" json:"-"`
	Received *struct{} `xml:"Received" json:"received,omitempty"`
}

// ConfirmFundsRequest asks Radial to re-authorize before a debit.
type ConfirmFundsRequest struct {
	XMLName                xml.Name            `xml:"http://api.gsicommerce.com/schema/checkout/1.0 ConfirmFundsRequest" json:"-"`
	RequestID              string              `xml:"requestId,attr" json:"requestId"`
	PaymentContext         *PaymentContext     `xml:"PaymentContext" json:"paymentContext,omitempty"`
	PaymentContextBase     *PaymentContextBase `xml:"PaymentContextBase" json:"paymentContextBase,omitempty"`
	Amount                 Amount              `xml:"Amount" json:"amount"`
	PerformReauthorization bool                `xml:"PerformReauthorization" json:"performReauthorization"`
}

// ConfirmFundsReply carries FundsAvailable: Success, Fail or Timeout.
type ConfirmFundsReply struct {
	XMLName                  xml.Name            `xml:"http://api.gsicommerce.com/schema/checkout/1.0 ConfirmFundsReply" json:"-"`
	PaymentContext           *PaymentContext     `xml:"PaymentContext" json:"paymentContext,omitempty"`
	PaymentContextBase       *PaymentContextBase `xml:"PaymentContextBase" json:"paymentContextBase,omitempty"`
	FundsAvailable           string              `xml:"FundsAvailable" json:"fundsAvailable"`
	ReauthorizationAttempted string              `xml:"ReauthorizationAttempted,omitempty" json:"reauthorizationAttempted,omitempty"`
}

// Fault is the error reply of a Radial service (malformed request, server
// error). Radial allows retrying the same requestId after a fault.
type Fault struct {
	XMLName     xml.Name `xml:"http://api.gsicommerce.com/schema/checkout/1.0 Fault" json:"-"`
	Code        string   `xml:"Code" json:"code"`
	Description string   `xml:"Description" json:"description"`
}
